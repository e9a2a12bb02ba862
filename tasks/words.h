// The fixed word lists the synthetic world is drawn from. Each list is data, not code:
// the world (tasks/world.c) picks from them with its seed. Lists are chosen so that the
// three narrow domains' vocabularies (tasks/domains.c) never occur in generic text
// (tests/test_noisa_tasks_world.c checks this).
#ifndef MD_TASKS_WORDS_H
#define MD_TASKS_WORDS_H

typedef struct md_wordlist {
    const char *const *words;
    int n;
} md_wordlist;

// People: capitalised first names, used with a leading space (" Mary"), never at the
// start of a line, so that each becomes one token of the trained tokenizer.
extern const md_wordlist md_words_names;
// IOI slots (Wang et al. style): places ("went to the [P]"), objects ("gave a [O]":
// every object starts with a consonant so "a" is always right).
extern const md_wordlist md_words_places;
extern const md_wordlist md_words_objects;
// The clinical knowledge base: conditions, and syllables for invented drug names.
extern const md_wordlist md_words_conditions;
extern const md_wordlist md_words_drug_prefix;
extern const md_wordlist md_words_drug_middle;
extern const md_wordlist md_words_drug_suffix;
// Generic text.
extern const md_wordlist md_words_animals;
extern const md_wordlist md_words_adjectives;
extern const md_wordlist md_words_people;      // occupations ("the teacher")
extern const md_wordlist md_words_town;        // things in a town or landscape
extern const md_wordlist md_words_times;       // "in the morning", "that winter"
extern const md_wordlist md_words_days;
extern const md_wordlist md_words_verbs_past;  // intransitive-friendly past tenses
extern const md_wordlist md_words_verbs_base;
extern const md_wordlist md_words_plurals;     // countable things ("12 chairs")
extern const md_wordlist md_words_events;      // history: "the war lasted from ..."
extern const md_wordlist md_words_openers;     // sentence openers for narratives

#endif
