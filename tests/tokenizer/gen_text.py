#!/usr/bin/env python3
"""Deterministic, varied test text for the tokenizer parity test.

    python3 tests/tokenizer/gen_text.py SEED OUT [MIN_BYTES]

Writes UTF-8 documents separated by NUL bytes (no document contains NUL), at least
MIN_BYTES (default 1200000) in all. The same seed gives the same bytes.

The mix aims at every rule of the GPT-2 pre-tokenizer and at the merge loop: English
prose with contractions in every case ('s 't 're 've 'm 'll 'd, 'S 'LL ..., curly
apostrophes, apostrophes elsewhere), numbers (long digit runs, separators, non-ASCII
digits, fractions, Roman numerals), whitespace runs of every kind (spaces, tabs, CR LF,
trailing spaces, NBSP, U+3000, U+2028, U+FEFF, and near-misses U+0085, U+180E, U+200B
that are not whitespace for the regex), punctuation runs, code (C, Python, JS, JSON,
HTML, shell, SQL), URLs, many scripts (Latin with diacritics precomposed and
decomposed, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai, CJK, Hangul), emoji with
ZWJ sequences, skin tones, flags and keycaps, stacked combining marks, and random code
points.

Every character is assigned in Unicode 14 (Python 3.11's unicodedata): the C tables come
from a newer Unicode (node's), and characters assigned since are the only ones whose
letter/number/space class the two could disagree on. An older node (e.g. Debian's) also
knows every character used here.
"""
import random
import sys
import unicodedata as ud

WORDS = """the of and to in is was he for it with as his on be at by had are but from or
have an they which one you were her all she there would their we him been has when who
will more no if out so said what up its about into than them can only other new some
could time these two may then do first any my now such like our over man me even most
made after also did many before must through back years where much your way well down
should because each just those people how too little state good very make world still
own see men work long get here between both life being under never day same another
know while last might us great old year off come since against go came right used take
three himself few house use during without again place around however home small found
thought went say part once general high upon school every don't does got united left
number course war until always away something fact though water less public put think
almost hand enough far took head yet government system better set told nothing night end
why called didn't eyes find going look asked later knew point next program city business
give group toward young days let room president side social given present several order
national possible rather second face per among form important often things looked early
white case john become large big need four within felt along children saw best church ever
least power development light thing seemed family interest want members mind country area
others done turned although open god service certain kind problem began different door
thus help sense means whole matter perhaps itself york times law human line above name
example action company hands local show whether five history gave today either act feet
across taken past quite anyone seen having death experience body word half really field
tokenizer merge vocabulary byte encoder decoder circuit attention residual gradient
transformer embedding neuron activation interpretability probability distribution""".split()

NAMES = """Alice Bob Carol Dave Eve Mallory Trent Peggy Victor Walter O'Neil McDonald
D'Angelo Zoë José Łukasz Søren Björk Ðorđe Nguyễn François Müller Dvořák Öztürk Ångström
GPT NASA IBM iPhone eBay YouTube JavaScript McCarthy MacArthur""".split()

CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE",
                "'M", "'LL", "'D", "'Re", "'Ve", "'Ll", "'rE", "\u2019s", "\u2019t",
                "\u2019ll", "'", "''", "'sup", "'tis", "'em", "'n'", "'99", "'s's"]

PUNCT = list("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~") + \
    ["...", "!!", "?!", "--", "---", "***", "==", "!=", "<=", ">=", "->", "=>", "::", "//",
     "/*", "*/", "&&", "||", "<<", ">>", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab",
     "\u00bb", "\u2014", "\u2013", "\u2026", "\u2022", "\u00b7", "\u00a7", "\u00b6", "\u2020",
     "\u00a9", "\u00ae", "\u2122", "\u00b0", "\u00b1", "\u00d7", "\u00f7", "\u2260", "\u2264",
     "\u221e", "\u221a", "\u2211", "\u222b", "\u00bf", "\u00a1", "\u203d", "\u2030", "\u20ac",
     "\u00a3", "\u00a5", "\u20b9", "\u00a2"]

SPACES = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", " \n",
          "  \n", " \t ", "\n  ", "\n    ", "\n\t", "\u00a0", "\u2003", "\u3000", "\u2028",
          "\u2029", "\ufeff", "\u000b", "\u000c", "\u202f", "\u205f", "\u1680",
          # not whitespace for the regex (\s in JavaScript): near-misses
          "\u0085", "\u180e", "\u200b", "\u200d", "\u2060"]

SCRIPTS = [
    "Le cœur a ses raisons que la raison ne connaît point. L'été était très chaud, n'est-ce pas ?",
    "Fußgängerübergänge sind gefährlich; Größenordnung, Straße, ÄÖÜ äöü ß ẞ.",
    "¿Dónde está la biblioteca? ¡Está allí! El niño comió piña y jalapeños.",
    "Zażółć gęślą jaźń. Łódź, Kraków, Wrocław, Gdańsk.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Tiếng Việt có nhiều dấu: Hà Nội, Thành phố Hồ Chí Minh, người, được, những.",
    "Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul, ığdır.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Αλφα βήτα γάμμα δέλτα ΩΣΠ ΐΰ.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю. Їжак, ґанок, Єва.",
    "العربية لغة جميلة، وتكتب من اليمين إلى اليسار. ١٢٣٤٥٦٧٨٩٠",
    "עברית היא שפה שמית. שָׁלוֹם עֲלֵיכֶם",
    "हिन्दी भारत की राजभाषा है। संस्कृत, क्षत्रिय, ज्ञान। १२३४५",
    "বাংলা ভাষা, তামিল தமிழ் மொழி, తెలుగు, ಕನ್ನಡ, മലയാളം",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ กรุงเทพมหานคร",
    "中文没有空格。我爱自然语言处理和机器学习！你好，世界。",
    "日本語はひらがな、カタカナ、漢字を使います。東京タワー、ｶﾀｶﾅ半角。",
    "한국어는 한글로 씁니다. 안녕하세요, 세계! ᄀᄁᄂ 가각갂",
    "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.",
    "ქართული ენა, Հայերեն լեզու, አማርኛ ቋንቋ, ᏣᎳᎩ, ᐃᓄᒃᑎᑐᑦ",
    "𝐌𝐚𝐭𝐡 𝒔𝒄𝒓𝒊𝒑𝒕 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 𝕕𝕠𝕦𝕓𝕝𝕖 𝟘𝟙𝟚𝟛 𓀀𓀁 𐌰𐌱𐌲 𠀀𠀁𪜀",
]

EMOJI = ["😀", "😂", "🤔", "👍", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵", "🇩🇪", "1️⃣",
         "#️⃣", "❤️", "✨", "🔥", "🚀", "🧠", "🎉", "☕", "♻️", "✔", "🐍", "🦀", "⭐", "🌍"]

COMBINING = [chr(c) for c in range(0x300, 0x370)] + ["\u0483", "\u0591", "\u05b4", "\u064b",
                                                     "\u093c", "\u0e31", "\u20d7", "\ufe0f",
                                                     "\u1ab0", "\u1dc0"]


def assigned(cp):
    return not (0xD800 <= cp <= 0xDFFF) and cp != 0 and ud.category(chr(cp)) != 'Cn'


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def word(self):
        r = self.r
        w = r.choice(WORDS) if r.random() < 0.9 else r.choice(NAMES)
        x = r.random()
        if x < 0.08:
            w = w.capitalize()
        elif x < 0.11:
            w = w.upper()
        elif x < 0.12:
            w = ''.join(c.upper() if r.random() < 0.5 else c for c in w)
        if r.random() < 0.08:
            w += r.choice(CONTRACTIONS)
        return w

    def sentence(self):
        r = self.r
        n = r.randint(3, 22)
        ws = [self.word() for _ in range(n)]
        ws[0] = ws[0][:1].upper() + ws[0][1:]
        out = ws[0]
        for w in ws[1:]:
            sep = ' '
            x = r.random()
            if x < 0.06:
                sep = ', '
            elif x < 0.08:
                sep = ' ' * r.randint(2, 5)
            elif x < 0.09:
                sep = r.choice(SPACES)
            elif x < 0.10:
                sep = ' ' + r.choice(PUNCT) + ' '
            elif x < 0.11:
                sep = r.choice(PUNCT)
            elif x < 0.12:
                sep = ' ' + self.number() + ' '
            out += sep + w
        end = r.choice(['.', '.', '.', '!', '?', '...', '?!', ':', ';', '."', '.)', ''])
        if r.random() < 0.1:
            out = r.choice(['"', '(', '\u201c', "'", '[', '*', '_']) + out
        return out + end

    def prose(self):
        r = self.r
        paras = []
        for _ in range(r.randint(1, 4)):
            paras.append(' '.join(self.sentence() for _ in range(r.randint(1, 6))))
        return r.choice(['\n\n', '\n', '\n\n\n', ' \n\n', '\r\n\r\n']).join(paras)

    def number(self):
        r = self.r
        x = r.random()
        if x < 0.25:
            return str(r.randint(0, 10 ** r.randint(1, 6)))
        if x < 0.35:
            return ''.join(r.choice('0123456789') for _ in range(r.randint(10, 120)))
        if x < 0.45:
            return '{:,}'.format(r.randint(1000, 10 ** 12))
        if x < 0.55:
            return '%d.%0*d' % (r.randint(0, 9999), r.randint(1, 6), r.randint(0, 999999))
        if x < 0.60:
            return '-%d' % r.randint(1, 99999)
        if x < 0.65:
            return '%04d-%02d-%02d' % (r.randint(1900, 2099), r.randint(1, 12), r.randint(1, 28))
        if x < 0.70:
            return '%02d:%02d:%02d' % (r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))
        if x < 0.74:
            return '0x%X' % r.randint(0, 2 ** 32)
        if x < 0.78:
            return '%d.%d.%d' % (r.randint(0, 20), r.randint(0, 50), r.randint(0, 200))
        if x < 0.82:
            return '%.3e' % (r.random() * 10 ** r.randint(-30, 30))
        if x < 0.86:
            return str(r.randint(1, 99)) + r.choice(['st', 'nd', 'rd', 'th', '%', 'x', 'px',
                                                     'km', 'GB', "'s"])
        if x < 0.90:
            return '+1 (%03d) %03d-%04d' % (r.randint(200, 999), r.randint(0, 999),
                                            r.randint(0, 9999))
        return r.choice(['\u0661\u0662\u0663', '\u0967\u0968', '\uff11\uff12\uff13', '\u00b2',
                         '\u00b3\u00b9', '\u00bd', '\u00be\u2153', '\u216b', '\u2163\u2164',
                         '\u2460\u2461', '\U0001d7d8\U0001d7d9', '\u0e51\u0e52',
                         '\u4e00\u4e8c\u4e09', '\u2070\u2074', '\u3007'])

    def numbers(self):
        r = self.r
        parts = []
        for _ in range(r.randint(5, 40)):
            parts.append(self.number())
            parts.append(r.choice([' ', ', ', '; ', '\n', '  ', '\t', '', 'x', ' and ', '/',
                                   '-', ' = ', '+']))
        return ''.join(parts)

    def whitespace(self):
        r = self.r
        parts = []
        for _ in range(r.randint(5, 40)):
            k = r.random()
            if k < 0.4:
                parts.append(r.choice(SPACES) * r.randint(1, 8))
            elif k < 0.5:
                parts.append(' ' * r.randint(1, 80))
            elif k < 0.55:
                parts.append(''.join(r.choice(SPACES) for _ in range(r.randint(2, 12))))
            else:
                parts.append(self.word() if r.random() < 0.7 else r.choice(PUNCT) +
                             r.choice(['', self.number()]))
        return ''.join(parts)

    def punctuation(self):
        r = self.r
        parts = []
        for _ in range(r.randint(5, 40)):
            k = r.random()
            if k < 0.5:
                parts.append(''.join(r.choice(PUNCT) for _ in range(r.randint(1, 6))))
            elif k < 0.7:
                parts.append(self.word())
            elif k < 0.8:
                parts.append(r.choice(["rock'n'roll", "O'Neil's", "l'homme", "'twas", "' s",
                                       "' ll", "''", "'''", "'S'", "x'd", "'d've", "can't've",
                                       "Y'ALL'D'VE", "'123", "'\u00e9t\u00e9", "\"'s\""]))
            else:
                parts.append(r.choice(EMOJI))
            parts.append(r.choice(['', ' ', ' ', '  ', '\n', '\t']))
        return ''.join(parts)

    def ident(self):
        r = self.r
        a, b = r.choice(WORDS).replace("'", ''), r.choice(WORDS).replace("'", '')
        return r.choice([a, a + '_' + b, a + b.capitalize(), a.upper(), '_' + a,
                         a + str(r.randint(0, 99)), '__' + a + '__'])

    def code(self):
        r = self.r
        ind = r.choice(['  ', '    ', '\t', '        '])
        n, m, s = self.ident(), self.ident(), self.ident()
        num = self.number()
        strs = ['"%s"' % self.ident() for _ in range(r.randint(1, 6))]
        snippets = [
            'int %s(const char *%s, size_t n) {\n%sfor (size_t i = 0; i < n; i++) {\n%s%sif (%s[i] == \'\\n\') return -1;\n%s}\n%sreturn %s;\n}\n'
            % (n, m, ind, ind, ind, m, ind, ind, num),
            'def %s(%s, %s=None):\n%s"""%s."""\n%sif %s is None:\n%s%sreturn [%s]\n%sreturn {%s: %s for %s in range(%s)}\n'
            % (n, m, s, ind, self.sentence(), ind, s, ind, ind, ', '.join(strs), ind, m, s, m, num),
            'const %s = async (%s) => {\n%sconst res = await fetch(`/api/%s?id=${%s}`);\n%sreturn res.json() ?? [];\n};\n'
            % (n, m, ind, s, m, ind),
            '{"%s": [%s], "%s": {"%s": %s, "ok": true, "none": null}, "list": ["a","b","c"],"x":[1,2,3],"y":"],"}\n'
            % (n, ','.join(strs), m, s, num),
            '[%s]\n' % ','.join(strs),
            '{"%s":"%s","%s":["%s","%s"]}\n' % (n, m, s, n, m),
            '<div class="%s" id=\'%s\'>\n%s<p>%s</p>\n%s<a href="https://example.com/%s?q=%s&amp;x=1">link</a>\n</div>\n'
            % (n, m, ind, self.sentence(), ind, s, num),
            '$ for f in *.%s; do echo "$f" | grep -E \'^[a-z]+\\.txt$\' >> %s.log; done\n' % (n, m),
            'SELECT %s, COUNT(*) AS n FROM %s WHERE %s >= %s GROUP BY %s ORDER BY n DESC;\n'
            % (n, m, s, num, n),
            '#include <stdio.h>\n#define %s(x) ((x) * (x))\n/* %s */\n// %s\n'
            % (n.upper(), self.sentence(), self.sentence()),
            'x = %s if %s != %s else -%s  # %s\n' % (m, n, num, s, self.sentence()),
            '| %s | %s |\n|---|---:|\n| %s | %s |\n' % (n, m, num, self.number()),
            'https://www.%s.org/%s/%s.html?a=%s#%s  mail: %s.%s@example.co.uk  @%s #%s\n'
            % (n, m, s, num, n, m, s, n, m),
            '/usr/local/lib/python3.11/site-packages/%s/%s.py:%s: in %s\n' % (n, m, num, s),
        ]
        return ''.join(r.choice(snippets) for _ in range(r.randint(1, 5)))

    def multilingual(self):
        r = self.r
        parts = []
        for _ in range(r.randint(2, 8)):
            t = r.choice(SCRIPTS)
            k = r.random()
            if k < 0.2:
                t = ud.normalize('NFD', t)
            elif k < 0.3:
                t = t.upper()
            parts.append(t)
            parts.append(r.choice([' ', '\n', '  ', ' ' + r.choice(EMOJI) + ' ', '\t']))
        return ''.join(parts)

    def zalgo(self):
        r = self.r
        out = []
        for w in [self.word() for _ in range(r.randint(3, 12))]:
            for c in w:
                out.append(c + ''.join(r.choice(COMBINING) for _ in range(r.randint(0, 4))))
            out.append(r.choice([' ', ' ', '\n', ' ' + r.choice(COMBINING)]))
        return ''.join(out)

    def random_chars(self):
        r = self.r
        out = []
        for _ in range(r.randint(20, 200)):
            k = r.random()
            if k < 0.5:
                hi = 0x3000
            elif k < 0.85:
                hi = 0x10000
            else:
                hi = 0x110000
            while True:
                cp = r.randrange(1, hi)
                if assigned(cp):
                    break
            out.append(chr(cp))
            if r.random() < 0.2:
                out.append(r.choice([' ', ' ', '  ', '\n', "'s", "'ll", '1', 'a']))
        return ''.join(out)

    def document(self, target):
        r = self.r
        kinds = [(self.prose, 30), (self.numbers, 8), (self.whitespace, 8),
                 (self.punctuation, 8), (self.code, 14), (self.multilingual, 12),
                 (self.zalgo, 4), (self.random_chars, 6)]
        fns = [f for f, w in kinds for _ in range(w)]
        parts = [r.choice(['', '', '', ' ', '  ', '\n', '\t', '\ufeff'])]
        size = 0
        while size < target:
            p = r.choice(fns)()
            parts.append(p)
            parts.append(r.choice(['\n', '\n\n', ' ', '', '\n\n\n', '  \n']))
            size += len(p)
        parts.append(r.choice(['', '', '\n', ' ', '   ', '\n\n', ' \t\n ']))
        return ''.join(parts)

    def corpus(self, min_bytes):
        docs = ['', ' ', '\n', '   ', "'s", 'a', ' \t\n ']  # edge cases first
        size = sum(len(d.encode()) for d in docs)
        while size < min_bytes:
            d = self.document(self.r.choice([200, 1000, 3000, 6000]))
            docs.append(d)
            size += len(d.encode())
        return docs


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: gen_text.py SEED OUT [MIN_BYTES]')
    seed, out = int(sys.argv[1]), sys.argv[2]
    min_bytes = int(sys.argv[3]) if len(sys.argv) > 3 else 1200000
    docs = Gen(seed).corpus(min_bytes)
    data = '\0'.join(docs).encode('utf-8')
    assert all('\0' not in d for d in docs)
    unassigned = {c for d in docs for c in d if not assigned(ord(c))}
    assert not unassigned, 'characters unassigned in Unicode %s: %r' % (ud.unidata_version,
                                                                        sorted(unassigned))
    with open(out, 'wb') as f:
        f.write(data)
    print('gen_text: %d documents, %d bytes' % (len(docs), len(data)))


main()
