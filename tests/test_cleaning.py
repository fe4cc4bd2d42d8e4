from __future__ import annotations

import pytest

from feedwatch.cleaning import clean

BODY = "The third season of Harbour Lights starts filming in Cornwall next month."
MORE = "Nadia Okafor returns as harbour master Tess Rowe, the broadcaster confirmed."

BOILERPLATE = {
    "wordpress footer": "The post Harbour Lights returns appeared first on Screen Ledger.",
    "read more": "Read more",
    "read more with dots": "Read more...",
    "continue reading": "Continue reading Harbour Lights review →",
    "read the full story": "Read the full story at Screen Ledger.",
    "bracketed ellipsis": "[…]",
    "ellipsis": "…",
    "teaser cut off": "Okafor also hinted that the lifeboat crew would face [...]",
    "teaser cut off with an ellipsis": "The finale ends with a storm that…",
    "share prompt": "Share this:",
    "share on": "Share on Facebook",
    "click to share": "Click to share on X (Opens in new window)",
    "like this": "Like this:",
    "newsletter": "Subscribe to our newsletter for the latest TV news and reviews.",
    "sign up": "Sign up for our free weekly newsletter.",
    "follow us": "Follow us on Instagram for behind-the-scenes photos.",
    "photo by": "(Photo by Rowan Pike/Getty Images)",
    "photo label": "Photo: Mina Hart / Getty Images",
    "image credit": "Image credit: Northlight Studios",
    "featured image": "Featured image: Tess Rowe (Nadia Okafor) on the harbour wall.",
    "agency credit": "Nadia Okafor and Callum Reid at the premiere (Alamy)",
    "courtesy": "Courtesy of Northlight Studios",
    "related label": "Related:",
    "advertisement": "Advertisement",
}

MARKUP = {
    "opening tag": '<div class="related-links" data-slot="mid">',
    "closing tags": "</p></div>",
    "attribute leftover": 'class="wp-caption aligncenter" style="width: 640px"',
    "css rule": ".promo-banner { display: none; margin: 0; }",
    "css declarations": "color: #222; font-size: 14px;",
    "script": "window.dataLayer = window.dataLayer || [];",
    "function": "function gtag(){dataLayer.push(arguments);}",
    "arrow function": "document.addEventListener('load', () => { init(); });",
}

PROSE = [
    "Share prices at the studio fell four per cent on Monday.",
    "More than two million viewers watched the finale live.",
    "Photographs from the set leaked online in May.",
    "Email was how the writers shared scripts during the strike.",
    # Starts like a prompt, but no prompt runs this long.
    "Read more than forty scripts and you will see why the cast said yes, Okafor told a festival "
    "audience in Falmouth on Saturday, adding that she had never been offered a part like it.",
    "The villain's plan: flood the harbour; sink the lifeboat; blame Tess.",
    "Viewers wrote in by the thousand... and the broadcaster listened.",
]


@pytest.mark.parametrize("sentence", BOILERPLATE.values(), ids=BOILERPLATE.keys())
def test_boilerplate_is_dropped_whether_alone_or_inside_a_paragraph(sentence: str) -> None:
    assert clean([[BODY], [sentence], [MORE]]) == [BODY, MORE]
    assert clean([[BODY, sentence, MORE]]) == [BODY, MORE]


@pytest.mark.parametrize("fragment", MARKUP.values(), ids=MARKUP.keys())
def test_markup_css_and_script_fragments_are_dropped(fragment: str) -> None:
    assert clean([[BODY], [fragment], [MORE]]) == [BODY, MORE]
    glued = f"{fragment} The broadcaster did not say when it would air."
    assert clean([[BODY, glued, MORE]]) == [BODY, MORE]


@pytest.mark.parametrize("sentence", PROSE)
def test_prose_that_looks_like_boilerplate_is_kept(sentence: str) -> None:
    assert clean([[BODY], [sentence]]) == [BODY, sentence]


def test_a_headline_line_is_never_returned() -> None:
    paragraphs = [["Harbour Lights returns for a fourth series"], [BODY, MORE]]

    assert clean(paragraphs) == [BODY, MORE]


def test_a_headline_glued_to_its_paragraph_by_a_line_break_is_dropped() -> None:
    # pysbd ends a sentence at a single line break; the line before it has no full stop.
    assert clean([["Filming news", BODY, MORE]]) == [BODY, MORE]


def test_a_headline_in_capitals_run_into_the_body_is_cut_off() -> None:
    glued = f"HARBOUR LIGHTS RETURNS FOR FOURTH SERIES {BODY}"

    assert clean([[glued, MORE]]) == [BODY, MORE]


@pytest.mark.parametrize(
    "sentence",
    [
        "BBC One confirmed the news on Tuesday.",
        "US TV Ratings, the trade newsletter, called it a hit.",
        "HBO, BBC and ITV all bid for the rights.",
    ],
)
def test_capitals_that_are_not_a_headline_stay(sentence: str) -> None:
    assert clean([[BODY, sentence]]) == [BODY, sentence]


def test_bylines_and_link_lists_without_full_stops_are_dropped() -> None:
    paragraphs = [
        ["By Jane Doe, TV correspondent"],
        [BODY],
        ["More from Screen Ledger"],
        ["Harbour Lights cast announced"],
        [MORE],
    ]

    assert clean(paragraphs) == [BODY, MORE]


def test_the_last_sentence_of_a_paragraph_may_lack_its_full_stop() -> None:
    assert clean([[BODY, "Fans are delighted"]]) == [BODY, "Fans are delighted"]


def test_a_long_line_without_a_full_stop_is_prose_not_a_heading() -> None:
    line = (
        "Okafor spent three weeks learning to handle a lifeboat in open water with the crew "
        "from the real station at Penmarrow before a single scene was shot"
    )

    assert clean([[line], [BODY]]) == [line, BODY]


def test_a_text_with_no_punctuated_sentence_keeps_its_lines() -> None:
    paragraphs = [["Harbour Lights"], ["Series four"], ["Coming soon"]]

    assert clean(paragraphs) == ["Harbour Lights", "Series four", "Coming soon"]


def test_repeated_sentences_are_kept_once() -> None:
    spaced = BODY.replace(" ", "  ")

    assert clean([[BODY, MORE], [spaced], [BODY]]) == [BODY, MORE]


def test_only_boilerplate_leaves_nothing() -> None:
    assert clean([["Read more..."], ["Share this:"], [BOILERPLATE["wordpress footer"]]]) == []
    assert clean([]) == []


LONG_TITLE = (
    "Harbour Lights series five confirmed as the last one after writer Mara Lenz tells a packed "
    "festival hall in Cologne that the lifeboat crew of Penmarrow will finally get its ending"
)
FOOTERS = {
    "en": f"The post {LONG_TITLE} appeared first on Screen Ledger.",
    "de": f"Der Beitrag {LONG_TITLE} erschien zuerst auf Serienhafen.",
    "fr": f"L'article {LONG_TITLE} est apparu en premier sur Écran Total.",
    "es": f"La entrada {LONG_TITLE} se publicó primero en Pantalla Abierta.",
    "pt": f"O post {LONG_TITLE} apareceu primeiro em Tela Quente.",
    "it": f"L’articolo {LONG_TITLE} proviene da Schermo Blu.",
}


@pytest.mark.parametrize("language", FOOTERS)
def test_a_footer_goes_whatever_the_length_of_the_title(language: str) -> None:
    footer = FOOTERS[language]
    assert len(footer.split()) > 25

    assert clean([[BODY, MORE], [footer]], language) == [BODY, MORE]
    assert clean([[BODY, MORE, footer]], language) == [BODY, MORE]


@pytest.mark.parametrize("language", FOOTERS)
def test_a_footer_goes_in_a_text_of_any_language(language: str) -> None:
    assert clean([[BODY], [FOOTERS[language]]], "en") == [BODY]
    assert clean([[BODY], [FOOTERS["en"]]], language) == [BODY]


def test_a_footer_whose_title_pysbd_split_goes_whole() -> None:
    split = ["The post Is Harbour Lights over?", "Yes.", "Here is why appeared first on Ledger."]

    assert clean([[BODY, MORE, *split]]) == [BODY, MORE]


def test_prose_about_a_post_is_not_a_footer() -> None:
    paragraph = [
        "The post office in Penmarrow doubles as the lifeboat station.",
        "Okafor said the scene appeared first on a storyboard in 2019.",
    ]

    assert clean([paragraph]) == paragraph


PROMPTS = {
    "en": [
        "Please hit the subscribe button below.",
        "Smash that like button and subscribe for more.",
        "Keep reading",
    ],
    "de": [
        "Weiterlesen",
        "Weiterlesen »",
        "Mehr lesen …",
        "Hier geht's weiter",
        "Mehr zum Thema:",
        "Lesen Sie auch:",
        "Jetzt teilen",
        "Teilen auf Facebook",
        "Folgt uns auf Instagram!",
        "Jetzt unseren Newsletter abonnieren und nichts verpassen.",
        "Abonniere unseren Kanal für mehr Serien-News.",
        "Bild: Serienhafen",
        "Quelle: Northlight Studios",
        "Anzeige",
    ],
    "fr": [
        "Lire la suite",
        "Lire aussi :",
        "À lire aussi :",
        "En savoir plus sur la série",
        "Partager sur Facebook",
        "Suivez-nous sur Instagram",
        "Abonnez-vous à notre newsletter pour ne rien manquer.",
        "Crédit photo : Northlight Studios",
        "Publicité",
    ],
    "es": [
        "Leer más",
        "Lee más: la cuarta temporada",
        "Seguir leyendo",
        "Lee también:",
        "Compartir en Facebook",
        "Síguenos en Instagram",
        "Suscríbete a nuestro boletín para recibir las novedades.",
        "Foto: Northlight Studios",
        "Publicidad",
    ],
    "pt": [
        "Leia mais (09/24/2018 - 19h22)",
        "Leia também:",
        "Saiba mais sobre a série",
        "Continue lendo",
        "Compartilhe no Facebook",
        "Siga-nos no Instagram",
        "Inscreva-se no nosso canal e ative as notificações.",
        "Foto: Northlight Studios",
        "Publicidade",
    ],
    "it": [
        "Continua a leggere",
        "Leggi anche:",
        "Leggi tutto",
        "Scopri di più sulla serie",
        "Condividi su Facebook",
        "Seguici su Instagram",
        "Iscriviti alla nostra newsletter per non perdere nulla.",
        "Foto: Northlight Studios",
        "Pubblicità",
    ],
}


@pytest.mark.parametrize(
    ("language", "prompt"),
    [(language, prompt) for language, prompts in PROMPTS.items() for prompt in prompts],
)
def test_each_language_s_prompts_and_credits_are_dropped(language: str, prompt: str) -> None:
    assert clean([[BODY], [prompt], [MORE]], language) == [BODY, MORE]
    assert clean([[BODY, prompt, MORE]], language) == [BODY, MORE]


@pytest.mark.parametrize(
    ("language", "teaser"),
    [
        ("de", "Die vierte Staffel beginnt mit einem Sturm, der … Weiterlesen"),
        ("fr", "La quatrième saison commence par une tempête qui… Lire la suite"),
        ("es", "La cuarta temporada empieza con una tormenta que [...] Leer más"),
        ("pt", "A quarta temporada começa com uma tempestade que… Leia mais"),
        ("it", "La quarta stagione inizia con una tempesta che… Continua a leggere"),
    ],
)
def test_a_teaser_ending_in_a_read_more_link_is_dropped(language: str, teaser: str) -> None:
    assert clean([[BODY, teaser]], language) == [BODY]


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("de", "Mehr als zwei Millionen Zuschauer sahen das Finale."),
        ("de", "Teilen wollte Lenz das Drehbuch mit niemandem."),
        ("fr", "Partager l'affiche a suffi à lancer la rumeur."),
        ("es", "Más de dos millones de espectadores vieron el final."),
        ("pt", "Mais de dois milhões de espectadores viram o final."),
        ("it", "Condividi la scena con chi vuoi, ha scherzato l'attrice."),
    ],
)
def test_prose_in_each_language_that_starts_like_a_prompt_is_kept(
    language: str, sentence: str
) -> None:
    assert clean([[BODY], [sentence]], language) == [BODY, sentence]


@pytest.mark.parametrize("language", ["en", "tlh", "pt"])
def test_english_and_unknown_languages_get_every_language_s_rules(language: str) -> None:
    # Portuguese, which pysbd cannot split, reaches cleaning as English.
    prompts = [["Read more"], ["Leia mais (09/24/2018 - 19h22)"], ["Weiterlesen"], ["Leer más"]]

    assert clean([[BODY], *prompts], language) == [BODY]
