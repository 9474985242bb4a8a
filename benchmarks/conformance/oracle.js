// Oracle for the SEO conformance corpus: runs the real `yoastseo` npm package (GPL, installed in
// ./node_modules, never copied into our tree) on each article and prints its verdicts as JSON.
// Input (stdin): JSON array of {id, html, keyphrase, title, description, slug, permalink, titleWidth}.
// Output (stdout): JSON object id -> {seo: {assessment: rating}, readability: {...}, flesch,
// readability_score, seo_score}. Ratings are Yoast's: bad (score <= 4), ok (5-7), good (8+).
"use strict";
const { Paper, ContentAssessor, SeoAssessor } = require("yoastseo");
const Researcher = require("yoastseo/build/languageProcessing/languages/en/Researcher").default;

function rate(score) {
  if (score <= 4) return "bad";
  if (score <= 7) return "ok";
  return "good";
}

function verdicts(assessor) {
  const out = {};
  for (const r of assessor.getValidResults()) out[r.getIdentifier()] = { rating: rate(r.getScore()), score: r.getScore() };
  return out;
}

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const result = {};
for (const a of input) {
  const paper = new Paper(a.html, {
    keyword: a.keyphrase, title: a.title, description: a.description || "", slug: a.slug,
    permalink: a.permalink, titleWidth: a.titleWidth || 0, locale: "en_US",
  });
  const researcher = new Researcher(paper);
  const content = new ContentAssessor(researcher);
  content.assess(paper);
  const seo = new SeoAssessor(researcher);
  seo.assess(paper);
  // Flesch is not an assessment of the 3.x content assessor, only a research: its score is rated by
  // the published thresholds (>= 60 good, 50-60 ok, < 50 bad).
  const f = researcher.getResearch("getFleschReadingScore");
  const flesch = f && typeof f === "object" ? Number(f.score) : Number(f);
  const readability = verdicts(content);
  readability.fleschReadingEase = { rating: flesch >= 60 ? "good" : flesch >= 50 ? "ok" : "bad", score: flesch };
  result[a.id] = {
    seo: verdicts(seo), readability, flesch,
    readability_score: content.calculateOverallScore(), seo_score: seo.calculateOverallScore(),
  };
}
process.stdout.write(JSON.stringify(result, null, 1) + "\n");
