"""A command whose positional text may start with '-' (`allixios articles search "-compost"`).

Click reads any word that starts with '-' as an option, and short options combine ("-compost"
would be read as -c -o ... -t with a value). This command class keeps every word that is not one
of the command's own option names as a positional argument, so web-search exclusions work
without `--`.
"""

from __future__ import annotations

from typer.core import TyperCommand


class DashArgsCommand(TyperCommand):
    def parse_args(self, ctx, args: list[str]) -> list[str]:
        takes_value: dict[str, bool] = {}
        for param in self.get_params(ctx):
            for name in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
                if name.startswith("-"):
                    takes_value[name] = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
        options: list[str] = []
        positionals: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                positionals.extend(args[i + 1 :])
                break
            name = arg.split("=", 1)[0] if arg.startswith("--") else arg
            if name in takes_value:
                options.append(arg)
                if takes_value[name] and "=" not in arg and i + 1 < len(args):
                    options.append(args[i + 1])
                    i += 1
            else:
                positionals.append(arg)
            i += 1
        return super().parse_args(ctx, [*options, "--", *positionals] if positionals else options)
