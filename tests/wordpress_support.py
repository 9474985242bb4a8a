"""A real WordPress for the publishing-target tests: Debian's `wordpress`, MariaDB and PHP on 127.0.0.1.

Everything is private to the test session: a throwaway MariaDB datadir under /tmp (its own
``mariadbd`` on a socket, networking off, no system service), a WordPress tree whose top-level PHP
files are copies (so ``ABSPATH`` and ``wp-config.php`` are ours, not Debian's /etc/wordpress
lookup) with ``wp-admin``/``wp-includes`` linked from /usr/share/wordpress, a writable
``wp-content`` for uploads, and ``php -S`` on a free port. WordPress is installed by a PHP script
calling ``wp_install`` and an application password is created with WordPress's own API.
``WP_ENVIRONMENT_TYPE`` is 'local' because application passwords otherwise demand HTTPS.

When the packages are missing, ``wordpress_unavailable()`` names what is missing and the tests
skip with that reason (`make test-deps` installs them when run as root).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from allixios.testing.servers import stop_process, wait_for

WP_SOURCE = Path("/usr/share/wordpress")
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-" + "pw"  # a throwaway admin of a throwaway site on 127.0.0.1


def wordpress_unavailable() -> str | None:
    """Why a real WordPress cannot be started here (None when it can)."""
    missing = []
    if not (WP_SOURCE / "wp-load.php").is_file():
        missing.append("wordpress (/usr/share/wordpress)")
    for tool, package in (("mariadbd", "mariadb-server"), ("mariadb-install-db", "mariadb-server"), ("php", "php-cli")):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            missing.append(f"{package} ({tool})")
    if shutil.which("php"):
        mods = subprocess.run(["php", "-m"], capture_output=True, text=True).stdout.lower()
        if "mysqli" not in mods:
            missing.append("php-mysql (mysqli)")
    if missing:
        return "WordPress tests did not run: missing " + ", ".join(dict.fromkeys(missing)) + \
            " — fix: `make test-deps` as root (apt-get install wordpress mariadb-server php-cli php-mysql)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@dataclass
class WordPress:
    root: Path
    url: str
    user: str
    app_password: str
    db_socket: str
    _procs: list[subprocess.Popen]

    @property
    def rest(self) -> str:
        """The REST base that works without pretty permalinks (php -S has no rewrite rules)."""
        return f"{self.url}/?rest_route="

    def get(self, route: str, **params) -> httpx.Response:
        """GET a REST route as the admin (httpx replaces a URL's query with ``params``: route goes in them)."""
        return httpx.get(self.url + "/", params={"rest_route": route, **params}, auth=(self.user, self.app_password),
                         timeout=30)

    def php(self, code: str) -> str:
        """Run PHP with WordPress loaded (for assertions on the site's own state)."""
        script = self.root / f"_run_{secrets.token_hex(4)}.php"
        script.write_text("<?php\n$_SERVER['HTTP_HOST'] = '127.0.0.1';\nrequire __DIR__ . '/wp-load.php';\n" + code)
        try:
            out = subprocess.run(["php", str(script)], capture_output=True, text=True, timeout=60, cwd=self.root)
        finally:
            script.unlink(missing_ok=True)
        if out.returncode != 0:
            raise RuntimeError(f"php failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
        return out.stdout

    def post_count(self, status: str = "any") -> int:
        return int(self.php(
            f"$q = new WP_Query(['post_type' => 'post', 'post_status' => '{status}', 'posts_per_page' => -1, "
            "'fields' => 'ids']); echo count($q->posts);"
        ).strip())

    def stop(self) -> None:
        for proc in reversed(self._procs):
            stop_process(proc)


def _wait(check, what: str, timeout: float = 60.0) -> None:
    wait_for(check, timeout, f"{what} to come up", not_yet=(Exception,))  # errors while it starts


def _start_mariadb(base: Path, procs: list[subprocess.Popen]) -> str:
    datadir, sock = base / "db", str(base / "my.sock")
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [_tool("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", *user,
         "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
        check=True, capture_output=True, timeout=180,
    )
    proc = subprocess.Popen(
        [_tool("mariadbd"), "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", "--skip-networking",
         f"--pid-file={base / 'my.pid'}", f"--log-error={base / 'my.err'}", "--innodb-buffer-pool-size=32M",
         "--skip-log-bin", *user],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    procs.append(proc)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited: {(base / 'my.err').read_text()[-1500:]}")
        return subprocess.run([_tool("mariadb"), f"--socket={sock}", "-uroot", "-e", "CREATE DATABASE IF NOT EXISTS wp"],
                              capture_output=True).returncode == 0

    _wait(ready, "MariaDB")
    return sock


def _wp_tree(root: Path, url: str, sock: str) -> None:
    root.mkdir()
    for entry in WP_SOURCE.iterdir():
        if entry.name in ("wp-config.php", ".htaccess", "wp-content"):
            continue
        if entry.is_dir():
            (root / entry.name).symlink_to(entry)
        else:
            shutil.copy2(entry, root / entry.name)
    content = root / "wp-content"
    content.mkdir()
    for sub in (WP_SOURCE / "wp-content").iterdir():
        (content / sub.name).symlink_to(sub)
    (content / "uploads").mkdir()
    keys = "\n".join(
        f"define('{k}', '{secrets.token_hex(16)}');"
        for k in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT",
                  "LOGGED_IN_SALT", "NONCE_SALT")
    )
    (root / "wp-config.php").write_text(f"""<?php
define('DB_NAME', 'wp');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:{sock}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{keys}
$table_prefix = 'wp_';
define('WP_HOME', '{url}');
define('WP_SITEURL', '{url}');
define('WP_CONTENT_DIR', __DIR__ . '/wp-content');
define('WP_CONTENT_URL', '{url}/wp-content');
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('FS_METHOD', 'direct');
define('WP_DEBUG', false);
if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
require_once ABSPATH . 'wp-settings.php';
""")


def _install(root: Path) -> str:
    script = root / "_install.php"
    script.write_text(f"""<?php
define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = '127.0.0.1';
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
if (!is_blog_installed()) {{
    wp_install('Allixios test site', '{ADMIN_USER}', 'admin@example.invalid', false, '', '{ADMIN_PASSWORD}');
}}
$user = get_user_by('login', '{ADMIN_USER}');
list($password, $item) = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => 'allixios']);
echo "APP_PASSWORD=" . $password . "\\n";
""")
    out = subprocess.run(["php", str(script)], capture_output=True, text=True, timeout=180, cwd=root)
    script.unlink()
    for line in out.stdout.splitlines():
        if line.startswith("APP_PASSWORD="):
            return line.split("=", 1)[1].strip()
    raise RuntimeError(f"WordPress install failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")


def start_wordpress(port: int | None = None) -> WordPress:
    base = Path(tempfile.mkdtemp(prefix="wp", dir="/tmp"))
    procs: list[subprocess.Popen] = []
    try:
        sock = _start_mariadb(base, procs)
        port = port or free_port()
        url = f"http://127.0.0.1:{port}"
        root = base / "site"
        _wp_tree(root, url, sock)
        app_password = _install(root)
        log = open(base / "php.log", "wb")  # noqa: SIM115 - kept open for the server's life
        procs.append(subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", "-t", str(root)], cwd=root,
                                      stdout=log, stderr=subprocess.STDOUT))
        _wait(lambda: httpx.get(f"{url}/?rest_route=/", timeout=5).status_code == 200, "WordPress (php -S)")
        return WordPress(root, url, ADMIN_USER, app_password, sock, procs)
    except BaseException:
        WordPress(base, "", "", "", "", procs).stop()
        shutil.rmtree(base, ignore_errors=True)
        raise


def stop_wordpress(wp: WordPress) -> None:
    wp.stop()
    shutil.rmtree(wp.root.parent, ignore_errors=True)
