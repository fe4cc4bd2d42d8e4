"""html_to_text: feed HTML to the plain text that is matched, stored and summarised."""

# Entities decode to typographic quotes and dashes, so the expected texts contain them.

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from feedwatch.errors import ParseError
from feedwatch.poll import parser
from feedwatch.text import html_to_text, tidy, xml_safe


def test_plain_text_passes_through():
    title = "Krysten Ritter teases a return to Hell's Kitchen (and 3 > 2)"
    assert html_to_text(title) == title


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("&ldquo;Hell&rsquo;s Kitchen&rdquo; &mdash; &eacute;t&eacute;", "“Hell’s Kitchen” — été"),
        ("&#8220;Defenders&#8221; &#x2014; &#X2019;", "“Defenders” — ’"),
        ("&lt;p&gt; is a tag", "<p> is a tag"),
    ],
)
def test_entities_are_decoded(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Tom &amp;amp; Jerry", "Tom &amp; Jerry"),
        ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),
        ("&amp;#8217;", "&#8217;"),
    ],
)
def test_entities_are_decoded_exactly_once(markup, text):
    assert html_to_text(markup) == text


def test_ampersands_that_start_no_entity_stay():
    assert html_to_text("AT&T, Q & A, R&amp;D, &unknown; &#;") == "AT&T, Q & A, R&D, &unknown; &#;"


@pytest.mark.parametrize(
    "hidden",
    [
        "<script>document.write('Daredevil')</script>",
        "<script type='text/javascript'>if (a < b && c > d) { x = '</p>' }</script>",
        "<SCRIPT>track()</SCRIPT >",
        "<style>p { content: 'Daredevil'; }</style>",
        "<noscript><img src='pixel.gif'>Enable JavaScript</noscript>",
        "<template><p>Daredevil</p></template>",
        "<!-- Daredevil <p>old copy</p> -->",
        "<!---->",
    ],
)
def test_scripts_styles_templates_and_comments_vanish(hidden):
    assert html_to_text(f"<p>Before</p>{hidden}<p>After</p>") == "Before\n\nAfter"


def test_element_names_that_merely_start_like_script_keep_their_text():
    assert html_to_text("<scripted>Luke Cage</scripted>") == "Luke Cage"


@pytest.mark.parametrize(
    "markup",
    [
        "<p>One</p><p>Two</p>",
        "<div>One</div>\n\n\n<div>Two</div>",
        "<ul><li>One</li><li>Two</li></ul>",
        "<h2>One</h2>Two",
        "One<br>Two",
        "One<br/><br />Two",
        "<blockquote><p>One</p></blockquote><figure><figcaption>Two</figcaption></figure>",
        "<article><header>One</header><section><p></p><p>Two</p></section></article>",
        "<table><tr><td>One</td></tr><tr><td>Two</td></tr></table>",
        "<P CLASS='lead'>One</P><DIV>Two</DIV>",
    ],
)
def test_block_elements_become_paragraphs_separated_by_one_blank_line(markup):
    assert html_to_text(markup) == "One\n\nTwo"


def test_blank_lines_in_plain_text_separate_paragraphs():
    assert html_to_text("  One\r\n  still one\n\n\n\tTwo \n") == "One still one\n\nTwo"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<em>Luke</em> Cage", "Luke Cage"),
        ("<a href='/jj'>Jessica</a>&nbsp;<strong>Jones</strong>", "Jessica Jones"),
        ("Dare<b>devil</b>’s", "Daredevil’s"),
        ("<span>Iron</span><span> Fist</span>", "Iron Fist"),
    ],
)
def test_inline_elements_add_no_space(markup, text):
    assert html_to_text(markup) == text


def test_table_cells_are_separated_by_a_space():
    assert html_to_text("<tr><th>Show</th><td>Daredevil</td></tr>") == "Show Daredevil"


def test_whitespace_inside_a_paragraph_is_one_space():
    markup = "<p>\n  Jessica\u00a0Jones\u2009returns\u202fin&nbsp;&nbsp;March,\t\n  says it. </p>"
    assert html_to_text(markup) == "Jessica Jones returns in March, says it."


def test_invisible_characters_are_dropped():
    assert html_to_text("Dare&shy;devil and Luke\u200bCage\ufeff") == "Daredevil and LukeCage"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Luke\x00 Cage\x01\x08\x1b returns\ufffe\uffff", "Luke Cage returns"),
        ("<p>\x00</p><p>Iron Fist</p>", "Iron Fist"),
        ("Luke\x0cCage and\x0bIron\x1fFist", "Luke Cage and Iron Fist"),
        ("Lone \ud800surrogate", "Lone surrogate"),
    ],
)
def test_characters_xml_forbids_are_dropped(markup, text):
    # PostgreSQL refuses NUL in text, and the digest must stay well-formed XML.
    assert html_to_text(markup) == text


def test_xml_safe_keeps_every_character_xml_allows():
    allowed = "\t\n\r Jessica\u00a0Jones \ud7ff\ue000\ufffd\U0001f3ac\U0010ffff"
    assert xml_safe(allowed) == allowed
    assert xml_safe("a\x00b\x0cc\uffffd") == "ab cd"


def test_tidy_takes_each_line_as_a_paragraph_when_told():
    text = "Luke\u200bCage   returns.\nIron\x00 Fist\n\n  \nends."
    assert tidy(text, lines_are_paragraphs=True) == "LukeCage returns.\n\nIron Fist\n\nends."
    assert tidy(text) == "LukeCage returns. Iron Fist\n\nends."


def test_double_wrapped_cdata_keeps_its_text():
    assert html_to_text("<![CDATA[<p>Luke Cage</p><p>returns</p>]]>") == "Luke Cage\n\nreturns"


def test_doctype_and_processing_instructions_vanish():
    markup = "<!DOCTYPE html><?xml version='1.0'?><html><body><p>Text</p></body></html>"
    assert html_to_text(markup) == "Text"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Unclosed <b>bold <i>and italic", "Unclosed bold and italic"),
        ("if a < b and c<3 then", "if a < b and c<3 then"),
        ("a </ b", "a </ b"),
        ("<<p>>Daredevil", "<\n\n>Daredevil"),
        ("<a title='1 > 0'>Luke</a> Cage", "Luke Cage"),
        ("<a title=\"He said 'no'\">Luke</a> Cage", "Luke Cage"),
        ("<img alt=Don't src=x.jpg>Luke Cage's", "Luke Cage's"),
        ("Jessica Jones<p class='cut off", "Jessica Jones"),
        ("Jessica Jones<!-- never closed <p>text", "Jessica Jones"),
        ("Jessica Jones<script>never closed", "Jessica Jones"),
        ("Jessica Jones<!", "Jessica Jones"),
        ("&#xD800; &#99999999999; &#0;", "\ufffd \ufffd \ufffd"),
        ("", ""),
        ("  \n\u00a0 ", ""),
    ],
)
def test_malformed_markup_never_raises(markup, text):
    assert html_to_text(markup) == text


def test_a_large_page_is_fast():
    paragraph = (
        "<div class='entry'><p>Mike Colter, who played <em>Luke Cage</em> for two seasons, "
        "joins a legal drama&nbsp;&mdash; <a href='https://example.com/?a=1&amp;b=2'>details</a>."
        "</p><!-- ad --><script>var slot = '<p>';</script><ul><li>One</li><li>Two</li></ul></div>\n"
    )
    page = paragraph * (300_000 // len(paragraph))
    started = time.perf_counter()
    text = html_to_text(page)
    elapsed = time.perf_counter() - started
    assert text.count("Luke Cage") == page.count("Luke Cage")
    # About 30 ms on a laptop; the margin only catches a change of complexity.
    assert elapsed < 1.0


@pytest.mark.parametrize(
    "piece",
    ["<", "<a ", "<a href='", '<a b="', "<a b=", "</", "<!--", "&", "\n ", "<script>", "<p"],
)
def test_pathological_input_takes_linear_time(piece):
    markup = piece * (200_000 // len(piece))
    started = time.perf_counter()
    html_to_text(markup)
    assert time.perf_counter() - started < 1.0


def _entries(folder: Path):
    for path in sorted(folder.iterdir()):
        if path.suffix == ".md":
            continue
        try:
            feed = parser.parse(path.read_bytes(), {}, f"https://{path.name}.example/")
        except ParseError:
            continue
        yield from ((path.name, entry) for entry in feed.entries)


def test_real_feeds_yield_clean_paragraphs(shared_corpus):
    leftover_markup = re.compile(r"<(?:p|div|br|span|a)\b[^>]*>", re.IGNORECASE)
    checked = 0
    for name, entry in _entries(shared_corpus / "real-feeds"):
        for markup in (entry.title, entry.summary_html, entry.content_html):
            text = html_to_text(markup)
            assert not leftover_markup.search(text), (name, entry.id)
            for paragraph in text.split("\n\n") if text else ():
                assert paragraph, (name, entry.id)
                assert paragraph == " ".join(paragraph.split()), (name, entry.id)
            checked += 1
    assert checked > 1000
