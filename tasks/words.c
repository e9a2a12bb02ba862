#include "tasks/words.h"

#define LIST(name, ...)                                                             \
    static const char *const name##_data[] = {__VA_ARGS__};                         \
    const md_wordlist name = {name##_data, (int)(sizeof name##_data / sizeof name##_data[0])}

LIST(md_words_names, "Mary", "John", "Anna", "James", "Sarah", "David", "Laura", "Peter",
     "Emma", "Paul", "Alice", "Mark", "Kate", "Tom", "Lucy", "Jack", "Rose", "Sam", "Ella",
     "Ben", "Grace", "Adam", "Clara", "Noah", "Julia", "Leo", "Nina", "Oscar", "Ruth",
     "Owen", "Jane", "Carl", "Amy", "Dan", "Eva", "Hugo", "Ivy", "Max", "Lily", "Ryan",
     "Maya", "Luke", "Zoe", "Sean", "Nora", "Eric", "Hannah", "Kyle", "Iris", "Neil",
     "Sophie", "Dean", "Rachel", "Victor", "Helen", "Frank", "Diana", "George", "Linda",
     "Henry", "Susan", "Oliver", "Karen", "Arthur", "Lisa", "Harry", "Megan", "Simon",
     "Chloe", "Brian", "Fiona", "Colin", "Wendy", "Albert", "Tina", "Walter", "Molly",
     "Edward", "Paula", "Martin", "Holly", "Felix", "Vera", "Louis", "Irene", "Gavin",
     "Olga", "Hector", "Joan", "Ian", "Kelly", "Jason", "Erin", "Kevin", "Naomi", "Ralph",
     "Tessa", "Bruce", "Alma", "Philip", "Greta", "Roger", "Hazel", "Steve", "Leah", "Tony",
     "Mona", "Derek", "Joyce", "Gordon", "Agnes", "Nathan", "Bella", "Fred", "Carmen",
     "Glen", "Rita", "Lewis", "Edith", "Boris", "Ingrid", "Conor", "Heidi", "Elliot",
     "Marta", "Dennis", "Sonia", "Gerald", "Petra", "Miles", "Yvonne", "Rufus", "Lena",
     "Abel", "Doris", "Cyril", "Flora", "Damon", "Judith");

LIST(md_words_places, "store", "garden", "restaurant", "school", "hospital", "office", "house",
     "station", "park", "library", "market", "cafe", "museum", "theater", "farm", "gym",
     "church", "mall", "airport", "hotel");

LIST(md_words_objects, "drink", "book", "ring", "bone", "basketball", "computer", "necklace",
     "snack", "letter", "hat", "pen", "ticket", "toy", "gift", "lamp", "phone", "bag",
     "watch", "card", "jacket");

LIST(md_words_conditions, "asthma", "gout", "migraine", "anemia", "psoriasis", "eczema",
     "glaucoma", "insomnia", "arthritis", "epilepsy", "hepatitis", "bronchitis", "pneumonia",
     "diabetes", "hypertension", "angina", "sinusitis", "tinnitus", "vertigo", "scabies",
     "malaria", "tuberculosis", "shingles", "acne", "rosacea", "colitis", "gastritis",
     "cystitis", "otitis", "tonsillitis", "lupus", "scurvy", "rickets", "jaundice", "measles",
     "mumps", "influenza", "cholera", "typhoid", "sepsis");

LIST(md_words_drug_prefix, "Zan", "Mol", "Ter", "Vel", "Dor", "Kel", "Pra", "Lum", "Cir",
     "Rov", "Fen", "Bal", "Nor", "Sil", "Tav", "Xer", "Quin", "Hal", "Jor", "Pel", "Zor",
     "Mer", "Tol", "Vin", "Cal", "Dex", "Lor", "Ral", "Sor", "Bex");
LIST(md_words_drug_middle, "", "a", "e", "i", "o", "u", "ar", "en", "il", "or", "um");
LIST(md_words_drug_suffix, "vir", "zine", "pril", "dol", "max", "tran", "lex", "cor", "nib",
     "prin", "tam", "zol", "ril", "fex", "mide", "stat");

LIST(md_words_animals, "dog", "cat", "horse", "bird", "rabbit", "fox", "goat", "sheep", "cow",
     "mouse", "duck", "owl", "frog", "deer", "bear", "wolf", "pig", "hen");
LIST(md_words_adjectives, "small", "big", "old", "new", "quiet", "busy", "happy", "tired",
     "bright", "dark", "warm", "cold", "green", "red", "blue", "yellow", "long", "short",
     "kind", "young", "strange", "clean", "empty", "full", "heavy", "soft", "loud", "calm",
     "sunny", "rainy", "brown", "gentle", "careful", "lucky");
LIST(md_words_people, "teacher", "farmer", "doctor", "nurse", "driver", "worker", "student",
     "child", "neighbor", "friend", "painter", "writer", "singer", "guard", "clerk",
     "manager", "mayor", "judge", "artist", "pilot");
LIST(md_words_town, "street", "road", "bridge", "tower", "village", "city", "town", "shop",
     "building", "square", "corner", "wall", "gate", "field", "hill", "forest", "lake",
     "river", "fence", "roof", "window", "door");
LIST(md_words_times, "morning", "evening", "afternoon", "night", "week", "month", "year",
     "summer", "winter", "spring", "autumn");
LIST(md_words_days, "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
     "Sunday");
LIST(md_words_verbs_past, "walked", "waited", "worked", "played", "talked", "laughed", "slept",
     "read", "wrote", "painted", "sang", "cleaned", "rested", "watched", "listened",
     "studied", "danced", "travelled", "smiled", "stayed");
LIST(md_words_verbs_base, "walk", "read", "play", "work", "rest", "talk", "sing", "paint",
     "clean", "visit", "swim", "write", "travel", "draw", "run", "dance", "study");
LIST(md_words_plurals, "chairs", "tables", "houses", "trees", "books", "cars", "bikes",
     "boxes", "lamps", "windows", "doors", "people", "children", "workers", "students",
     "animals", "birds", "flowers", "stones", "coins", "letters");
LIST(md_words_events, "the war", "the drought", "the festival", "the famine", "the flood",
     "the fair", "the strike", "the siege", "the rebellion", "the treaty talks",
     "the trade dispute", "the reign of the old king", "the construction of the bridge",
     "the expedition", "the great exhibition", "the railway project");
LIST(md_words_openers, "One day,", "Last week,", "In the morning,", "Once,", "That summer,",
     "On Sunday,", "Earlier,", "Yesterday,", "Later,", "At noon,", "In the evening,",
     "That winter,", "Some time ago,", "This year,");
