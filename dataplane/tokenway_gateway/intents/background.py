"""None-of-the-above exemplars: everyday prompts that belong to no routing intent.

The matcher scores them as one more, hidden intent; a prompt nearer to them than to any
configured intent matches nothing. They span the topics people ask a general assistant
about (facts, food, health, travel, hobbies, creative writing, advice). An intent whose
examples cover one of these topics still wins on its own prompts, since those sit closer
to the intent's examples than to a single generic one here. Written for the purpose; not
taken from the labelled evaluation set.
"""

from __future__ import annotations

BACKGROUND_EXAMPLES: tuple[str, ...] = (
    "What is the capital of Australia?",
    "Who was the first person to walk on the moon?",
    "When did the Second World War end?",
    "How many bones are in the human body?",
    "What is the longest river in Africa?",
    "Who wrote Pride and Prejudice?",
    "How do I cook risotto?",
    "What can I make for dinner with chicken and rice?",
    "Is it safe to eat eggs past the expiry date?",
    "What are the health benefits of walking every day?",
    "How much water should I drink a day?",
    "What helps with a sore throat?",
    "Plan a weekend in Lisbon for two people.",
    "What should I see in New York on a first visit?",
    "Do I need a visa to travel to Brazil?",
    "How do I stop my dog from barking at night?",
    "What do rabbits eat?",
    "When should I plant tulip bulbs?",
    "How do I keep my basil plant alive?",
    "Write a poem about autumn leaves.",
    "Write a bedtime story about a brave mouse.",
    "Give me a toast for my best friend's wedding.",
    "Suggest a name for my new kitten.",
    "What are some fun things to do on a rainy day?",
    "How can I improve my relationship with my teenage son?",
    "How do I ask my boss for a raise?",
    "What should I include in a cover letter?",
    "How do I save money for a house deposit?",
    "Is it better to rent or buy a home?",
    "Which running shoes are good for flat feet?",
    "What's a good beginner yoga routine?",
    "Who is the best basketball player of all time?",
    "How does a rainbow form?",
    "Why do leaves change colour in autumn?",
    "How far away is the sun?",
    "What is photosynthesis?",
    "Recommend a movie for a family night.",
    "What are some good podcasts about history?",
    "How do I fix a leaking tap?",
    "How do I paint a room without streaks?",
    "What colour shoes go with a navy suit?",
    "What did Plato believe about justice?",
    "How do I become more confident?",
    "What are good habits for a healthy morning routine?",
    "How do I get my toddler to eat vegetables?",
    "What is the difference between a hurricane and a typhoon?",
    "How do I clean a cast iron pan?",
    "What is the best way to learn to draw?",
    "What are the wonders of the ancient world?",
    "Give me ideas for a romantic anniversary dinner.",
)
