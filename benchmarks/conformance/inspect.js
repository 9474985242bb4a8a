// Dev aid (not used by tests): print yoastseo's research results for one article, to see where
// our measures and the oracle's differ. stdin: one {html, keyphrase, title, description, slug,
// permalink}; argv: research names.
"use strict";
const { Paper } = require("yoastseo");
const Researcher = require("yoastseo/build/languageProcessing/languages/en/Researcher").default;
const LanguageProcessor = require("yoastseo/build/parse/language/LanguageProcessor").default;
const { build } = require("yoastseo/build/parse/build");
const a = JSON.parse(require("fs").readFileSync(0, "utf8"));
const paper = new Paper(a.html, { keyword: a.keyphrase, title: a.title, description: a.description || "",
  slug: a.slug, permalink: a.permalink, locale: "en_US" });
const researcher = new Researcher(paper);
paper.setTree(build(paper, new LanguageProcessor(researcher)));
const out = {};
for (const name of process.argv.slice(2)) out[name] = researcher.getResearch(name);
const drop = new Set(["tokens", "sourceCodeRange", "parentStartOffset", "parentClientId", "parentAttributeId", "isParentFirstSectionOfBlock", "parentSourceCodeRange"]);
process.stdout.write(JSON.stringify(out, (k, v) => (drop.has(k) ? undefined : v), 1) + "\n");
