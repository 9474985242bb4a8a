"""English text measures for the readability assessments: words, sentences, syllables, Flesch,
passive voice, transition words, and the light word normalisation used for keyphrase matching.

Heuristics, not NLP: documented in docs/areas/content-scoring.md with their limits.
"""

from __future__ import annotations

import re

# A word: letters/digits joined by hyphens, apostrophes or inner dots, so "long-term", "don't",
# "1.41.0" and "cloud.gov" are one word each; dashes, entities and punctuation are not words.
_WORD = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*")
_ABBREVIATIONS = re.compile(r"\b(e\.g|i\.e|etc|vs|mr|mrs|ms|dr|st|approx|no|fig|gov|sen|rep|gen|jr|sr|inc|corp|ltd|prof)\.", re.I)
# a sentence ends at . ! ? (and any closing quotes or brackets, straight or curly) before a capital
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")

# Function words: not "content words" of a keyphrase (Yoast-style), and not counted as topical.
FUNCTION_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves""".split()
)

# Passive voice: a form of "be" or "get" (contractions included: isn't, they're, it's) followed, in
# the same clause, by a past participle (a regular -ed form or an irregular one), with any words in
# between ("was quickly fixed", "is the standard released by"). Written from English grammar and
# checked against yoastseo's answers as a black box on the conformance corpus (tuning set):
# - a clause ends at a comma or colon, or at a word that opens a new clause (conjunctions, relative
#   and question words, "to" and "as" that start an infinitive or comparison); quotes, brackets and
#   dashes do not end it;
# - an -ed word right after a determiner or a preposition is an adjective in a noun phrase ("is the
#   updated list", "is essential for distributed teams"), not the verb of the clause;
# - so does a comparative ("is more complicated", "the most used"); a form of "have" ends the clause's
#   "be" (a perfect tense: "it is the work we have planned", "you've just finished");
# - a present participle ends the search ("is walking marked paths" is active), except "having"
#   ("enjoy having it seen" is passive);
# - "to-be" inside a compound is a passive of its own ("our soon-to-be-published interview");
# - a few -ed words are, after "be", adjectives of feeling or state far more often than verbs
#   ("we are excited", "it is based in"): _STATE_ADJECTIVES.
_AUX = frozenset(
    "am is are was were be been being get gets got gotten getting isn't aren't wasn't weren't "
    "'m 're 's".split()
)
_CLAUSE_WORDS = frozenset(
    "and but or that which who whom whose where when while because if although though unless "
    "since whether than until once after before to as how what why".split()
)
_CLAUSE_MARKS = frozenset(",:")  # not ? or !: "“Who are they?” she asked" is one clause
# determiners and prepositions: an -ed word right after one of these modifies the following noun
_NOUN_PHRASE_OPENERS = frozenset(
    "a an the this these those my our your his her its their such no every some all several many few "
    "for in of with about by from at on into over under through across without between against "
    "during among toward towards onto upon".split()
)
_STATE_ADJECTIVES = frozenset(  # as a word of their own: "behavior-based" is still a verb form
    "excited gratified concerned based located related".split()
)
_NOT_VERB_BEFORE = frozenset("more most less least".split())
_PERFECT = frozenset("have has 've".split())  # "you've just finished": a perfect tense, not "be" + participle
_IRREGULAR_PARTICIPLES = frozenset((
    "arisen awoken beaten become begun bent bet bid bitten blown broken brought built burnt bought caught "
    "chosen come cost cut dealt done drawn drunk driven eaten fallen fed felt fought found flown forbidden "
    "forgotten forgiven frozen given gone ground grown hung heard hidden hit held hurt kept known laid led "
    "left lent let lain lit lost made meant met paid put quit read ridden rung risen run said seen sought "
    "sold sent set shaken shed shot shown shut sung sunk sat slept slid spoken spent spun spread stood "
    "stolen stuck stung struck sworn swept swum taken taught torn told thought thrown understood woken worn "
    "won written withdrawn overseen overcome undertaken undergone rebuilt rewritten mistaken upheld "
    "misled outgrown overtaken forecast broadcast fit"
).split())
# -ed words that are not participles (nouns, adjectives, adverbs)
_NOT_PARTICIPLES = frozenset(
    "need seed speed bed red shed hundred kindred sacred naked wicked embed feed breed deed indeed "
    "proceed exceed succeed weed greed steed".split()
)
# a word keeps its inner hyphens, apostrophes, underscores and dots ("is_normalized", "cloud.gov")
_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|(?<!\S)['’](?:m|re|s|ve)\b|[,:]")


def _tokens(sentence: str) -> list[str]:
    # split contractions so "they're" gives "they" + "'re" and "isn't" stays one auxiliary
    text = re.sub(r"(?i)\b(\w+)['’](re|m|ve)\b", r"\1 '\2", sentence)
    text = re.sub(r"(?i)\b(it|that|there|here|what|who|he|she|this|which|where|everything|nothing)['’]s\b",
                  r"\1 's", text)
    return [t.lower().replace("’", "'") for t in _TOKEN.findall(text)]


def is_participle(word: str) -> bool:
    w = word.lower().rsplit("-", 1)[-1]
    if word.lower() in _IRREGULAR_PARTICIPLES:  # "well-known" is one adjective, "mobile-optimized" a verb form
        return True
    if "'" in w or "’" in w or word.lower() in _STATE_ADJECTIVES:  # "FedRAMP'ed" is a coinage
        return False
    return len(w) > 3 and w.endswith("ed") and w not in _NOT_PARTICIPLES


# Connectives: words and phrases that tie a sentence to its neighbours. Our own list, written from
# English grammar (coordinating and subordinating conjunctions, conjunctive adverbs, sequence and
# example markers) and tuned on the conformance corpus's tuning set; see docs/areas/content-scoring.md.
# Words that are mostly prepositions or ordinals in real prose (after, first, once, again, until) are
# left out: they would make every sentence with a date or a list count as connected.
TRANSITIONS = (
    # contrast and concession
    "but however although though whereas while whilst yet nevertheless nonetheless notwithstanding despite "
    "instead rather otherwise conversely unlike regardless still "
    # cause, effect, purpose, condition
    "because since so therefore thus hence consequently accordingly if unless whether when whenever "
    "provided "
    # addition and emphasis
    "also additionally furthermore moreover besides further another equally likewise similarly "
    "indeed actually especially particularly notably specifically namely including mostly generally "
    "basically certainly surely undoubtedly clearly obviously importantly explicitly "
    # comparison
    "than "
    # time and sequence
    "then later earlier previously initially eventually finally lastly afterwards afterward meanwhile "
    "subsequently simultaneously soon during following firstly secondly thirdly overall altogether "
    "ultimately occasionally nor"
).split()
TRANSITION_PHRASES = (
    "for example", "for instance", "such as", "e.g.", "i.e.", "that is", "in other words", "to illustrate",
    "to demonstrate", "in addition", "as well as", "in fact", "in truth", "in reality", "of course",
    "as a result", "due to", "because of", "so that", "so as to", "in order to", "according to",
    "even though", "even if", "even so", "even more", "only if", "in case", "as long as", "as soon as",
    "as much as", "given that", "now that", "note that", "in short", "in brief", "in summary",
    "in conclusion", "to sum up", "on the other hand", "in contrast", "by contrast", "as opposed to",
    "different from", "in general", "in particular", "at least", "at first", "at last", "at this point",
    "at the same time", "in the meantime", "in the end", "so far", "to that end", "in this case",
    "in this situation", "first of all", "to begin with", "after all", "above all", "most important",
    "most importantly", "this time", "to point out", "to explain", "in turn", "all in all", "on the whole",
    "for this reason", "with this in mind", "in the same way", "last but not least", "not only",
)
# Two-part connectives: both parts in one sentence, in this order.
TRANSITION_PAIRS = (
    ("not only", "but also"), ("both", "and"), ("either", "or"), ("neither", "nor"), ("whether", "or"),
    ("not", "but"),
)
_TRANSITION_RE = re.compile(
    r"(?<![\w-])(?:" + "|".join(sorted((re.escape(p) for p in (*TRANSITION_PHRASES, *TRANSITIONS)), key=len, reverse=True))
    + r")(?![\w-])",
    re.I,
)
_PAIR_RES = [re.compile(rf"(?<![\w-]){re.escape(a)}(?![\w-]).*?(?<![\w-]){re.escape(b)}(?![\w-])", re.I)
             for a, b in TRANSITION_PAIRS]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    """Split prose into sentences on . ! ? followed by a capital or digit (abbreviations kept whole)."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", "\u2024"), text)
    parts: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(protected):
        if protected[m.start() - 1] in "?!" and protected[m.start()] in "\"”’'":
            continue  # “Who are they?” Kurz asked: the quoted question is part of the sentence
        parts.append(protected[start:m.start() + len(m.group(0).rstrip())])  # closing quotes stay
        start = m.end()
    parts.append(protected[start:])
    return [p.replace("\u2024", ".").strip() for p in parts if words(p)]


def syllables(word: str) -> int:
    """Syllables of an English word, from its spelling: vowel groups, where "u" after "q" is part of
    the consonant and "y" between vowels is one ("player", "beyond"); minus a silent final -e (not
    -le), -ed (not -ted/-ded), -es (not after s-like sounds, g or l) and the -e of -ely; plus vowel
    pairs read as two (ia, io, iu, ua, uo; "ie" before r, t or "nc"; a vowel before -ing), minus the
    -tion/-sion/-cial endings. A word without vowels (an initialism such as "HR") has none.

    Not pyphen: its hyphenation points are where a word may break at a line end, which skips
    syllables near the word's edges (``every`` is ``ev-ery``); on the tuning set it read Flesch
    about 7 points too easy against yoastseo. These rules were fitted on the tuning set's words:
    they give yoastseo's count for 98.3 % of its 36,335 words (the first rule, 95.7 %)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    w = re.sub(r"(?<=q)u", "", w)
    w = re.sub(r"(?<=[aeiou])y(?=[aeo])", "j", w)
    n = len(re.findall(r"[aeiouy]+", w))
    if n == 0:
        return 0
    if n > 1 and re.search(r"[^aeiouy]e$", w) and not re.search(r"[^aeiouy]le$", w):
        n -= 1
    elif n > 1 and (re.search(r"[^aeiouytd]ed$", w) or re.search(r"[^aeiouyxzhgl]es$", w)):
        n -= 1
    if n > 1 and re.search(r"[^aeiouy]ely$", w):
        n -= 1
    n += len(re.findall(r"ia|io|iu|ua|uo", w)) - len(re.findall(r"[tsc]i[ao][nl]", w))
    n += len(re.findall(r"[aeiouy]ing", w)) + len(re.findall(r"ie(?=r|nc|t)", w))
    if re.match(r"y[aeiou]", w):
        n -= 1
    return max(1, n)


def flesch_reading_ease(sentence_list: list[str], sentence_count: int | None = None) -> float:
    """206.835 - 1.015 * words/sentence - 84.6 * syllables/word, clamped to 0..100. A word is what
    whitespace separates, as a reader sees it: ``array::from_ref`` in a release note is one long
    word, not three short ones (yoastseo reads it so too); figures are not words (no letters).
    ``sentence_count``: the sentences as the page counts them, if not one per item of the list."""
    all_words = [w for s in sentence_list for w in s.split() if re.search(r"[^\W\d_]", w)]
    if not all_words or not sentence_list:
        return 0.0
    wps = len(all_words) / (sentence_count or len(sentence_list))
    spw = sum(syllables(w) for w in all_words) / len(all_words)
    return max(0.0, min(100.0, 206.835 - 1.015 * wps - 84.6 * spw))


def is_passive(sentence: str) -> bool:
    """An auxiliary, then later in the same clause a participle that is not an adjective before a
    noun nor a perfect tense (see the rules above _AUX)."""
    aux = False
    prev = ""
    for tok in _tokens(sentence):
        if tok in _CLAUSE_MARKS or tok in _CLAUSE_WORDS or tok in _PERFECT:
            aux = False
        elif tok in _AUX:
            aux = True
        elif "-be-" in tok and _compound_passive(tok):
            return True
        elif aux and is_participle(tok) and prev not in _NOUN_PHRASE_OPENERS and prev not in _NOT_VERB_BEFORE:
            return True
        elif aux and tok.endswith("ing") and tok != "having":
            aux = False
        prev = tok
    return False


def _compound_passive(word: str) -> bool:
    parts = word.split("-")
    return any(p == "be" and i + 1 < len(parts) and is_participle(parts[i + 1]) for i, p in enumerate(parts))


def has_transition(sentence: str) -> bool:
    text = sentence.replace("’", "'")
    return bool(_TRANSITION_RE.search(text)) or any(p.search(text) for p in _PAIR_RES)


def first_word_key(sentence: str) -> str:
    """The start of a sentence for the repetition check; an article/determiner takes the next word too."""
    ws = [w.lower() for w in words(sentence)]
    if not ws:
        return ""
    if ws[0] in {"the", "a", "an", "this", "that", "these", "those"} and len(ws) > 1:
        return f"{ws[0]} {ws[1]}"
    return ws[0]


def normalize(word: str) -> str:
    """Lower-case and fold plurals/possessives so 'Funds' matches 'fund'."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def normalized_words(text: str) -> list[str]:
    return [normalize(w) for w in words(text)]


def content_words(phrase: str) -> list[str]:
    """The keyphrase words that carry meaning (function words dropped unless nothing else is left)."""
    ws = [w.lower() for w in words(phrase)]
    kept = [w for w in ws if w not in FUNCTION_WORDS]
    return [normalize(w) for w in (kept or ws)]
