"use strict";
// Dev aid (not used by tests): yoastseo's syllable count of each word in a JSON list on stdin, read
// back from its Flesch score on a fixed 50-word text (the word, then 49 two-syllable fillers in 5
// sentences of 10: score = 30.869 - 1.692 x syllables). How readability.syllables was fitted.
const { Paper } = require("yoastseo");
const Researcher = require("yoastseo/build/languageProcessing/languages/en/Researcher").default;
const LanguageProcessor = require("yoastseo/build/parse/language/LanguageProcessor").default;
const { build } = require("yoastseo/build/parse/build");
const words = JSON.parse(require("fs").readFileSync(0, "utf8"));
const s9 = " water water water water water water water water water.";
const out = {};
for (const w of words) {
  const text = `${w}` + s9 + (" Water water water water water water water water water water.").repeat(4);
  const paper = new Paper(`<p>${text}</p>`, { locale: "en_US" });
  const r = new Researcher(paper);
  paper.setTree(build(paper, new LanguageProcessor(r)));
  const f = r.getResearch("getFleschReadingScore");
  out[w] = Math.round((30.869 - Number(f.score)) / 1.692 * 10) / 10;
}
process.stdout.write(JSON.stringify(out));
