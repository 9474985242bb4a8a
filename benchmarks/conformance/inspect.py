"""Dev aid: ``python -m benchmarks.conformance.inspect SET ID RESEARCH...`` runs inspect.js on a fixture."""

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.conformance.build_corpus import oracle_html
from benchmarks.seo_conformance import CORPUS

set_name, article, *researches = sys.argv[1:]
meta = json.loads((CORPUS / set_name / f"{article}.json").read_text())
body = (CORPUS / set_name / f"{article}.md").read_text()
payload = {"html": oracle_html(body), "keyphrase": meta["keyphrase"], "title": meta["title"],
           "description": meta["description"], "slug": meta["slug"], "permalink": meta["published_url"]}
print(subprocess.run(["node", "inspect.js", *researches], input=json.dumps(payload), text=True, check=True,
                     capture_output=True, cwd=Path(__file__).parent).stdout)
