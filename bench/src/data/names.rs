//! The word lists the generator draws from, per writing system: names (with an ASCII
//! transliteration for e-mail local parts), companies, streets, cities and notes.
//!
//! Everything a search might see is here, so the needle pickers in `expect.rs` can check a
//! needle against every string the data can contain.

/// A name and how it is spelled in ASCII (for e-mail addresses).
pub type Word = (&'static str, &'static str);

/// A family name in its masculine and feminine forms (the same for most scripts).
pub type Family = (Word, Word);

/// Latin-script names with diacritics (Western, Central and Northern Europe).
pub const LATIN_GIVEN: &[Word] = &[
    ("José", "jose"),
    ("María", "maria"),
    ("François", "francois"),
    ("Zoë", "zoe"),
    ("Søren", "soren"),
    ("Björn", "bjorn"),
    ("Łukasz", "lukasz"),
    ("Małgorzata", "malgorzata"),
    ("Jürgen", "jurgen"),
    ("Renée", "renee"),
    ("Inés", "ines"),
    ("Tomáš", "tomas"),
    ("Ágnes", "agnes"),
    ("João", "joao"),
    ("Chloé", "chloe"),
    ("Mañuel", "manuel"),
    ("Håkon", "hakon"),
    ("Dörte", "dorte"),
    ("Cécile", "cecile"),
    ("Jiří", "jiri"),
    ("Emma", "emma"),
    ("Lars", "lars"),
    ("Anna", "anna"),
    ("Paul", "paul"),
];

pub const LATIN_MIDDLE: &[Word] = &[
    ("Luís", "luis"),
    ("Marie", "marie"),
    ("Andrés", "andres"),
    ("Elżbieta", "elzbieta"),
    ("Ólafur", "olafur"),
];

pub const LATIN_FAMILY: &[Family] = &[
    (("Müller", "muller"), ("Müller", "muller")),
    (("García", "garcia"), ("García", "garcia")),
    (("Núñez", "nunez"), ("Núñez", "nunez")),
    (("Dvořák", "dvorak"), ("Dvořáková", "dvorakova")),
    (("Øvergaard", "overgaard"), ("Øvergaard", "overgaard")),
    (("Lefèvre", "lefevre"), ("Lefèvre", "lefevre")),
    (("Kowalczyk", "kowalczyk"), ("Kowalczyk", "kowalczyk")),
    (("Söderström", "soderstrom"), ("Söderström", "soderstrom")),
    (("Nagy", "nagy"), ("Nagy", "nagy")),
    (("Çelik", "celik"), ("Çelik", "celik")),
    (("Ferreira", "ferreira"), ("Ferreira", "ferreira")),
    (("Håkansson", "hakansson"), ("Håkansson", "hakansson")),
    (("Šimek", "simek"), ("Šimková", "simkova")),
    (("O'Brien", "obrien"), ("O'Brien", "obrien")),
    (("Schäfer", "schafer"), ("Schäfer", "schafer")),
    (("Wiśniewski", "wisniewski"), ("Wiśniewska", "wisniewska")),
    (("Fernández", "fernandez"), ("Fernández", "fernandez")),
    (("Bérubé", "berube"), ("Bérubé", "berube")),
    (("Jørgensen", "jorgensen"), ("Jørgensen", "jorgensen")),
    (("Smith", "smith"), ("Smith", "smith")),
];

/// Russian names; the feminine family form adds "а" (Петров / Петрова).
pub const CYRILLIC_GIVEN_MALE: &[Word] = &[
    ("Иван", "ivan"),
    ("Сергей", "sergey"),
    ("Дмитрий", "dmitry"),
    ("Алексей", "aleksey"),
    ("Николай", "nikolay"),
    ("Михаил", "mikhail"),
    ("Андрей", "andrey"),
    ("Павел", "pavel"),
    ("Олег", "oleg"),
    ("Владимир", "vladimir"),
    ("Юрий", "yuri"),
    ("Борис", "boris"),
];

pub const CYRILLIC_GIVEN_FEMALE: &[Word] = &[
    ("Анна", "anna"),
    ("Мария", "maria"),
    ("Елена", "elena"),
    ("Ольга", "olga"),
    ("Татьяна", "tatiana"),
    ("Наталья", "natalia"),
    ("Светлана", "svetlana"),
    ("Ирина", "irina"),
    ("Екатерина", "ekaterina"),
    ("Людмила", "lyudmila"),
    ("Ксения", "ksenia"),
    ("Дарья", "darya"),
];

/// Patronymics, masculine and feminine.
pub const CYRILLIC_MIDDLE: &[Family] = &[
    (("Иванович", "ivanovich"), ("Ивановна", "ivanovna")),
    (("Сергеевич", "sergeevich"), ("Сергеевна", "sergeevna")),
    (("Андреевич", "andreevich"), ("Андреевна", "andreevna")),
    (("Николаевич", "nikolaevich"), ("Николаевна", "nikolaevna")),
    (("Петрович", "petrovich"), ("Петровна", "petrovna")),
];

pub const CYRILLIC_FAMILY: &[Family] = &[
    (("Петров", "petrov"), ("Петрова", "petrova")),
    (("Смирнов", "smirnov"), ("Смирнова", "smirnova")),
    (("Кузнецов", "kuznetsov"), ("Кузнецова", "kuznetsova")),
    (("Попов", "popov"), ("Попова", "popova")),
    (("Соколов", "sokolov"), ("Соколова", "sokolova")),
    (("Лебедев", "lebedev"), ("Лебедева", "lebedeva")),
    (("Козлов", "kozlov"), ("Козлова", "kozlova")),
    (("Новиков", "novikov"), ("Новикова", "novikova")),
    (("Морозов", "morozov"), ("Морозова", "morozova")),
    (("Волков", "volkov"), ("Волкова", "volkova")),
    (("Соловьёв", "solovyov"), ("Соловьёва", "solovyova")),
    (("Васильев", "vasilyev"), ("Васильева", "vasilyeva")),
    (("Зайцев", "zaytsev"), ("Зайцева", "zaytseva")),
    (("Павлов", "pavlov"), ("Павлова", "pavlova")),
    (("Семёнов", "semyonov"), ("Семёнова", "semyonova")),
    (("Голубев", "golubev"), ("Голубева", "golubeva")),
    (("Виноградов", "vinogradov"), ("Виноградова", "vinogradova")),
    (("Богданов", "bogdanov"), ("Богданова", "bogdanova")),
    (("Фёдоров", "fyodorov"), ("Фёдорова", "fyodorova")),
    (("Михайлов", "mikhaylov"), ("Михайлова", "mikhaylova")),
    (("Тарасов", "tarasov"), ("Тарасова", "tarasova")),
    (("Комаров", "komarov"), ("Комарова", "komarova")),
    (("Орлов", "orlov"), ("Орлова", "orlova")),
    (("Киселёв", "kiselyov"), ("Киселёва", "kiselyova")),
    (("Макаров", "makarov"), ("Макарова", "makarova")),
    (("Ильин", "ilyin"), ("Ильина", "ilyina")),
    (("Гусев", "gusev"), ("Гусева", "guseva")),
    (("Титов", "titov"), ("Титова", "titova")),
    (("Кудрявцев", "kudryavtsev"), ("Кудрявцева", "kudryavtseva")),
    (("Баранов", "baranov"), ("Баранова", "baranova")),
    (("Куликов", "kulikov"), ("Куликова", "kulikova")),
    (("Степанов", "stepanov"), ("Степанова", "stepanova")),
    (("Яковлев", "yakovlev"), ("Яковлева", "yakovleva")),
    (("Белоусов", "belousov"), ("Белоусова", "belousova")),
    (("Щербаков", "shcherbakov"), ("Щербакова", "shcherbakova")),
    (("Жуков", "zhukov"), ("Жукова", "zhukova")),
];

pub const GREEK_GIVEN_MALE: &[Word] = &[
    ("Γιώργος", "giorgos"),
    ("Νίκος", "nikos"),
    ("Δημήτρης", "dimitris"),
    ("Κώστας", "kostas"),
    ("Γιάννης", "giannis"),
    ("Παναγιώτης", "panagiotis"),
];

pub const GREEK_GIVEN_FEMALE: &[Word] = &[
    ("Μαρία", "maria"),
    ("Ελένη", "eleni"),
    ("Κατερίνα", "katerina"),
    ("Σοφία", "sofia"),
    ("Ιωάννα", "ioanna"),
    ("Δέσποινα", "despoina"),
];

pub const GREEK_FAMILY: &[Family] = &[
    (
        ("Παπαδόπουλος", "papadopoulos"),
        ("Παπαδοπούλου", "papadopoulou"),
    ),
    (("Νικολάου", "nikolaou"), ("Νικολάου", "nikolaou")),
    (("Γεωργίου", "georgiou"), ("Γεωργίου", "georgiou")),
    (("Οικονόμου", "oikonomou"), ("Οικονόμου", "oikonomou")),
    (("Παπαδάκης", "papadakis"), ("Παπαδάκη", "papadaki")),
    (("Βασιλείου", "vasileiou"), ("Βασιλείου", "vasileiou")),
    (("Καραγιάννης", "karagiannis"), ("Καραγιάννη", "karagianni")),
    (("Μαυρίδης", "mavridis"), ("Μαυρίδου", "mavridou")),
    (
        ("Χριστοδούλου", "christodoulou"),
        ("Χριστοδούλου", "christodoulou"),
    ),
];

/// Chinese names are written family first without a space.
pub const CHINESE_GIVEN: &[Word] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("秀英", "xiuying"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("洋", "yang"),
    ("艳", "yan"),
    ("勇", "yong"),
    ("军", "jun"),
    ("杰", "jie"),
    ("娟", "juan"),
];

pub const CHINESE_FAMILY: &[Word] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
];

/// Japanese names are written family first, here with a space.
pub const JAPANESE_GIVEN: &[Word] = &[
    ("翔太", "shota"),
    ("陽菜", "hina"),
    ("蓮", "ren"),
    ("結衣", "yui"),
    ("大翔", "hiroto"),
    ("美咲", "misaki"),
    ("健太", "kenta"),
    ("さくら", "sakura"),
    ("拓也", "takuya"),
    ("愛", "ai"),
];

pub const JAPANESE_FAMILY: &[Word] = &[
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("渡辺", "watanabe"),
    ("伊藤", "ito"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
];

pub const ARABIC_GIVEN: &[Word] = &[
    ("محمد", "mohammed"),
    ("أحمد", "ahmed"),
    ("علي", "ali"),
    ("عمر", "omar"),
    ("يوسف", "youssef"),
    ("خالد", "khaled"),
    ("فاطمة", "fatima"),
    ("عائشة", "aisha"),
    ("مريم", "maryam"),
    ("ليلى", "layla"),
    ("نور", "nour"),
    ("سارة", "sara"),
];

pub const ARABIC_FAMILY: &[Word] = &[
    ("الحسن", "alhassan"),
    ("الخطيب", "alkhatib"),
    ("حداد", "haddad"),
    ("منصور", "mansour"),
    ("النجار", "alnajjar"),
    ("السيد", "alsayed"),
    ("عبدالله", "abdullah"),
    ("الشامي", "alshami"),
    ("القاسم", "alqasim"),
    ("العمري", "alomari"),
];

pub const PREFIXES: &[&str] = &["Dr.", "Prof.", "Mr.", "Ms.", "Ing."];
pub const SUFFIXES: &[&str] = &["Jr.", "PhD", "III"];

pub const NICKNAMES: &[&str] = &[
    "Jo",
    "Mika",
    "Sasha",
    "Kiki",
    "Bär",
    "Lulu",
    "Пушок",
    "小龙",
    "Toto",
    "Nené",
];

/// Company and its mail domain (all under the reserved example.* names).
pub const COMPANIES: &[(&str, &str)] = &[
    ("Müller & Söhne GmbH", "muller-sohne.example.com"),
    ("Initech", "initech.example.com"),
    ("Globex Ltd.", "globex.example.org"),
    ("Umbrella Research", "umbrella.example.net"),
    ("Café Olé S.L.", "cafeole.example.com"),
    ("Nordvind AB", "nordvind.example.org"),
    ("ООО «Ромашка»", "romashka.example.com"),
    ("Ανατολή Α.Ε.", "anatoli.example.com"),
    ("株式会社さくら", "sakura.example.jp"),
    ("北方科技有限公司", "beifang.example.cn"),
    ("شركة النور", "alnoor.example.com"),
    ("Dvořák Strojírny s.r.o.", "dvorak-stroj.example.com"),
];

pub const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Engineering",
    "Research & Development",
    "Buchhaltung",
    "Отдел продаж",
    "研发部",
    "Λογιστήριο",
    "Support; Tier 2",
];

pub const TITLES: &[&str] = &[
    "Engineer",
    "Project Manager",
    "Directora comercial",
    "Инженер-программист",
    "営業部長",
    "Σύμβουλος",
    "مدير المبيعات",
    "Head of Operations",
];

pub const PERSONAL_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "post.example.org",
];

/// A city: (street names, city, region, postal code pattern, country, phone prefix).
pub struct Place {
    pub streets: &'static [&'static str],
    pub city: &'static str,
    pub region: &'static str,
    pub zip: &'static str,
    pub country: &'static str,
    pub phone: &'static str,
}

pub const LATIN_PLACES: &[Place] = &[
    Place {
        streets: &["Hauptstraße", "Schönhauser Allee", "Müllerstraße"],
        city: "Berlin",
        region: "Berlin",
        zip: "10###",
        country: "Deutschland",
        phone: "+49 30 ### ####",
    },
    Place {
        streets: &[
            "Rue de la Paix",
            "Boulevard Saint-Germain",
            "Rue des Écoles",
        ],
        city: "Paris",
        region: "Île-de-France",
        zip: "750##",
        country: "France",
        phone: "+33 1 ## ## ## ##",
    },
    Place {
        streets: &["ulica Długa", "ulica Floriańska", "Aleje Jerozolimskie"],
        city: "Kraków",
        region: "Małopolska",
        zip: "3#-###",
        country: "Polska",
        phone: "+48 12 ### ## ##",
    },
    Place {
        streets: &["Calle Mayor", "Avenida de la Constitución", "Calle Alcalá"],
        city: "Sevilla",
        region: "Andalucía",
        zip: "410##",
        country: "España",
        phone: "+34 954 ### ###",
    },
    Place {
        streets: &["Storgatan", "Södra Förstadsgatan", "Östra Rönneholmsvägen"],
        city: "Malmö",
        region: "Skåne",
        zip: "21# ##",
        country: "Sverige",
        phone: "+46 40 ### ## ##",
    },
];

pub const CYRILLIC_PLACES: &[Place] = &[
    Place {
        streets: &["ул. Тверская", "Ленинский проспект", "ул. Арбат"],
        city: "Москва",
        region: "",
        zip: "1250##",
        country: "Россия",
        phone: "+7 495 ###-##-##",
    },
    Place {
        streets: &["Невский проспект", "ул. Садовая", "Литейный проспект"],
        city: "Санкт-Петербург",
        region: "",
        zip: "1910##",
        country: "Россия",
        phone: "+7 812 ###-##-##",
    },
];

pub const GREEK_PLACES: &[Place] = &[
    Place {
        streets: &["Οδός Ερμού", "Λεωφόρος Συγγρού", "Οδός Πατησίων"],
        city: "Αθήνα",
        region: "Αττική",
        zip: "105 ##",
        country: "Ελλάδα",
        phone: "+30 21 0### ####",
    },
    Place {
        streets: &["Οδός Τσιμισκή", "Λεωφόρος Νίκης"],
        city: "Θεσσαλονίκη",
        region: "Κεντρική Μακεδονία",
        zip: "546 ##",
        country: "Ελλάδα",
        phone: "+30 231 0## ####",
    },
];

pub const CHINESE_PLACES: &[Place] = &[
    Place {
        streets: &["长安街", "王府井大街", "建国路"],
        city: "北京市",
        region: "北京",
        zip: "100###",
        country: "中国",
        phone: "+86 10 #### ####",
    },
    Place {
        streets: &["南京路", "淮海中路"],
        city: "上海市",
        region: "上海",
        zip: "200###",
        country: "中国",
        phone: "+86 21 #### ####",
    },
];

pub const JAPANESE_PLACES: &[Place] = &[Place {
    streets: &["銀座", "丸の内", "渋谷"],
    city: "東京都",
    region: "東京",
    zip: "1##-####",
    country: "日本",
    phone: "+81 3-####-####",
}];

pub const ARABIC_PLACES: &[Place] = &[
    Place {
        streets: &["شارع الشيخ زايد", "شارع الوصل"],
        city: "دبي",
        region: "دبي",
        zip: "",
        country: "الإمارات العربية المتحدة",
        phone: "+971 4 ### ####",
    },
    Place {
        streets: &["شارع التحرير", "شارع قصر النيل"],
        city: "القاهرة",
        region: "القاهرة",
        zip: "11###",
        country: "مصر",
        phone: "+20 2 #### ####",
    },
];

pub const NOTES: &[&str] = &[
    "Met at the conference in Zürich; follow up about the Q3 proposal.",
    "Prefers e-mail, not phone.\nAvailable Mon–Thu.",
    "Позвонить после обеда, обсудить договор.",
    "Τηλεφωνήστε μετά τις 5 μ.μ.",
    "生日快乐！下次见面带茶叶。",
    "يفضل التواصل عبر البريد الإلكتروني",
    "Allergic to peanuts. Kids: Léa, Noé.",
    "Backslash test: C:\\Users\\shared, semicolons; commas, and colons: all escaped.",
    "Old address until 2019 — see ADR for the current one.",
];

pub const CATEGORIES: &[&str] = &["friends", "work", "family", "VIP", "Kollegen", "клиенты"];
