"""Hand-written article pairs for the embedder tests: two paraphrases of one article and an unrelated one.

Written for Allixios (not generated, not copied): the paraphrase shares the meaning and almost none
of the wording, the way two writers cover the same topic, so only a semantic embedder can tell.
"""

EMERGENCY_FUND = (
    "emergency-fund-low-income",
    "How to Build an Emergency Fund on a Low Income",
    "emergency fund",
    "An emergency fund is money set aside for surprises: a car repair, a vet bill, a week without pay. Without "
    "one, a surprise bill ends up on a credit card with high interest. On a small income the goal is not six months of expenses at once. Start with a target of a few "
    "hundred dollars and automate a small transfer on payday, even ten dollars a week.\n\n"
    "## Where to keep it\n\nKeep the emergency fund in a separate savings account so it is not spent on "
    "everyday things. Refill it after you use it, and raise the target once the first goal is reached.",
)
RAINY_DAY = (
    "rainy-day-savings-tight-money",
    "Saving a Rainy-Day Cushion When Money Is Tight",
    "rainy day savings",
    "Unexpected costs hit hardest when wages barely cover the bills: a broken boiler, a dentist visit, a "
    "shift that gets cancelled. Otherwise the shock lands on borrowing that costs a fortune to repay. "
    "You do not need a huge pot to begin. Aim for a modest first sum and have a "
    "little moved automatically whenever your salary arrives.\n\n"
    "## A separate pot\n\nPark that cushion in its own account, away from your spending money, so it stays "
    "untouched until a real crisis. Top it back up after each use and grow the goal step by step.",
)
TOMATOES = (
    "balcony-tomatoes",
    "Growing Tomatoes in Pots on a Sunny Balcony",
    "balcony tomatoes",
    "Cherry tomatoes thrive in containers of at least twenty litres. Give them six hours of sun, water deeply "
    "every morning, and feed them every two weeks once the first flowers open.\n\n"
    "## Support and pruning\n\nTie the stems to a cane as they grow and pinch out side shoots so the plant "
    "puts its energy into fruit.",
)
