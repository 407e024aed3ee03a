"""``Extractor`` on hostile input: empty, odd scripts, control characters, surrogates, 1 MB documents.

Every input must give a valid (possibly empty) result whose offsets index the caller's own string;
a list input must never die because of one bad text. The tiny model is trained once per session
(``trained_tiny_model``, also used by ``test_fuzz_offsets.py``) until it reproduces the fixtures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from diplomat_ie.inference.extractor import ExtractionResult, Extractor
from diplomat_ie.modeling.encoding import encode_document
from diplomat_ie.modeling.io import load_tokenizer

ROOT = Path(__file__).resolve().parents[1]
BRAT = ROOT / "tests" / "fixtures" / "brat"
DOC1 = (BRAT / "train" / "doc1.txt").read_text(encoding="utf-8")  # "... Марко Рубио ... посетить Казахстан ..."
MAX_LENGTH = 24  # subwords per window: DOC1 (14 subwords) fits once, not twice, so copies never share one


def train_tiny_model(base: Path, backbone: Path) -> Path:
    """Train (once per session: cached under ``base``) a tiny model that fits the fixture documents."""
    import torch

    from diplomat_ie import train
    from diplomat_ie.config import load_config

    out = base / "tiny_fitted_model"
    if (out / "model.safetensors").is_file():
        return out
    work = base / "tiny_fitted_run"
    work.mkdir(exist_ok=True)
    cfg = load_config(None, {
        "name": "tiny-fitted", "data.corpus": str(BRAT), "data.dev_split": "train",  # best = fits the fixtures
        "model.backbone": str(backbone), "model.max_length": str(MAX_LENGTH), "model.overlap": "8",
        "model.num_layers": "2", "model.freeze_word_embeddings": "false",
        "training.output_dir": str(out), "training.report_dir": str(work / "report"),
        "training.epochs": "60", "training.batch_size": "2", "training.head_lr": "1.0e-2",
        "training.encoder_lr": "2.0e-3", "training.warmup_ratio": "0", "training.patience": "100",
        "training.eval_every": "30", "training.save_total_limit": "1", "training.threads": "1"})
    threads, env = torch.get_num_threads(), os.environ.get("TENSORBOARD_LOGGING_DIR")
    cwd = os.getcwd()
    os.chdir(work)  # runs/<name> lands here, never in the repository
    try:
        train(cfg)
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
        if env is None:
            os.environ.pop("TENSORBOARD_LOGGING_DIR", None)
        else:
            os.environ["TENSORBOARD_LOGGING_DIR"] = env
    return out


def check_result(text: str, res) -> None:
    """A valid result: offsets in bounds, every span's text is the caller's slice, JSON-serialisable."""
    assert isinstance(res, ExtractionResult)
    assert res.text is text or res.text == text
    ids = set()
    for e in res.entities:
        assert 0 <= e.start < e.end <= len(text), (e, len(text))
        assert text[e.start : e.end] == e.text
        assert e.text.strip(), e  # never a span of whitespace only
        assert 0.0 <= e.score <= 1.0
        ids.add(e.id)
    assert len(ids) == len(res.entities)
    for ev in res.events:
        t = ev.trigger
        assert 0 <= t["start"] < t["end"] <= len(text)
        assert text[t["start"] : t["end"]] == t["text"]
        assert t.get("entity_id") is None or t["entity_id"] in ids
        for a in ev.arguments:
            assert 0 <= a.start < a.end <= len(text)
            assert text[a.start : a.end] == a.text
            assert a.entity_id is None or a.entity_id in ids
    json.dumps(res.to_dict())  # lone surrogates included: ensure_ascii escapes them


def spans(res) -> list[tuple[str, int, int]]:
    return [(e.type, e.start, e.end) for e in res.entities]


BAD_INPUTS = {
    "empty": "",
    "space": " ",
    "whitespace": " \n\t\r\n \u00a0\u2003\n",
    "newlines": "\n" * 50,
    "one_cyrillic": "М",
    "one_latin": "a",
    "one_digit": "7",
    "one_punct": ".",
    "english": "The Russian foreign minister met his Turkish counterpart in Moscow on Tuesday.",
    "cjk": "外交部长王毅在北京会见了美国国务卿。双方讨论了双边关系。",
    "arabic_rtl": "التقى وزير الخارجية الروسي بنظيره التركي في موسكو.",
    "emoji": "Путин 😀👍🏽 встретил 👨‍👩‍👧 🇷🇺🇺🇸 коллегу 🕊️",
    "only_emoji": "😀" * 200,
    "control": "Рубио\x01\x02\x1b[0m\x7f заявил\x0b\x0c о\x1c\x1d\x1e\x1f визите\x85.",
    "nul": "Марко\x00Рубио\x00заявил\x00\x00.",
    "only_nul": "\x00" * 100,
    "lone_high_surrogate": "Рубио \ud800 заявил.",
    "lone_low_surrogate": "\udfff",
    "split_surrogate_pair": "Лавров \ud83d\ude00 ответил",
    "surrogates_inside_word": "Мо\udc80сква и Каз\ud800ахстан",
    "bom": "\ufeffМосква",
    "zero_width": "Мо\u200bсква\u200d \u200c Казахстан\u2060",
    "combining": "вы\u0301играть и\u0306 ё\u0308 \u0301\u0301\u0301",
    "line_separators": "Марко\u00a0Рубио\u2028заявил\u2029о визите",
    "private_use_and_nonchars": "\ue000\uf8ff\uffff\ufffe\U0010ffff\ufffd",
    "long_word": "а" * 5000,
    "long_digits": "1" * 3000,
    "long_punct": "!" * 2000,
    "long_no_spaces_mixed": ("Москва" + "." + "2026") * 300,
    "markup": "<p><b>Сергей Лавров</b>&nbsp;прибыл в <a href='https://mid.ru'>Женеву</a></p>",
    "dates_numbers": "05.11.2026 10:00 UTC; +7 (495) 244-16-06; 1 000 000 руб.; 3,14%",
    "crlf_doc": DOC1.replace(" ", "\r\n"),
    "cr_only": DOC1.replace(" ", "\r"),
    "tabs": DOC1.replace(" ", "\t"),
    "nul_between_words": DOC1.replace(" ", "\x00"),
    "doc_with_surrogates": DOC1.replace(" ", " \ud800 "),
}


@pytest.fixture(scope="session")
def fitted_model(tmp_path_factory, tiny_backbone) -> Path:
    return train_tiny_model(tmp_path_factory.getbasetemp(), tiny_backbone)


@pytest.fixture(scope="module")
def ex(fitted_model):
    import torch

    threads = torch.get_num_threads()
    yield Extractor.from_pretrained(fitted_model, batch_size=64, threads=1)  # tiny model: 1 thread is fastest
    torch.set_num_threads(threads)


def test_fitted_model_finds_the_fixture_entities(ex):
    res = ex(DOC1)
    check_result(DOC1, res)
    found = {(e.type, e.text) for e in res.entities}
    assert {("PERSON", "Марко Рубио"), ("EVENT", "посетить"), ("COUNTRY", "Казахстан")} <= found


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_a_valid_result(ex, name):
    text = BAD_INPUTS[name]
    check_result(text, ex(text))


def test_nothing_to_extract_gives_empty_results(ex):
    for text in ("", " ", "\n\n\r\n\t", "\x00\x00"):
        res = ex(text)
        assert res.entities == [] and res.events == []
        assert res.to_dict() == {"text": text, "entities": [], "events": []}


@pytest.mark.parametrize("sep", ["\r\n", "\r", "\t", " \r\n\t", "  \u00a0 ", "\u2003"])
def test_odd_separators_keep_offsets_on_the_callers_string(ex, sep):
    """Same words, other separators: the same entities, at offsets of the caller's (unnormalised) text."""
    words = DOC1.split(" ")
    plain, odd = " ".join(words), sep.join(words)

    def word_index(text, s, joiner):  # character offset -> (word number, offset in word)
        starts = [0]
        for w in words[:-1]:
            starts.append(starts[-1] + len(w) + len(joiner))
        i = max(k for k, st in enumerate(starts) if st <= s)
        return i, s - starts[i]

    a, b = ex(plain), ex(odd)
    check_result(odd, b)
    assert [(t, word_index(plain, s, " "), word_index(plain, e - 1, " ")) for t, s, e in spans(a)] == \
           [(t, word_index(odd, s, sep), word_index(odd, e - 1, sep)) for t, s, e in spans(b)]
    assert ("PERSON", "Марко" + sep + "Рубио") in {(e.type, e.text) for e in b.entities}


def test_list_input_never_dies_because_of_one_bad_text(ex):
    names = sorted(BAD_INPUTS)
    texts = [BAD_INPUTS[n] for n in names] + [DOC1]
    results = ex(texts)
    assert isinstance(results, list) and len(results) == len(texts)
    for name, text, res in zip(names + ["doc1"], texts, results, strict=True):
        check_result(text, res)
        assert spans(res) == spans(ex(text)), name  # batching with other texts changes nothing
    assert ex([]) == []
    assert len(ex(t for t in ("", DOC1))) == 2 and len(ex(("", DOC1))) == 2


@pytest.mark.parametrize("bad, index, kind", [
    (["ok", None], 1, "NoneType"), ([b"bytes"], 0, "bytes"), (["a", "b", 3], 2, "int"),
    ([["nested", "list"]], 0, "list"), (["x", 1.5, None], 1, "float")])
def test_non_str_element_raises_type_error_naming_its_index(ex, bad, index, kind):
    with pytest.raises(TypeError, match=rf"#{index} is {kind}, expected str"):
        ex(bad)


@pytest.mark.parametrize("bad", [None, b"bytes", bytearray(b"x"), 42, 3.5, {"text": "x"}])
def test_non_text_argument_raises_a_clear_type_error(ex, bad):
    with pytest.raises(TypeError, match="expected a str or a list of str"):
        ex(bad)


def _megabyte_of(unit: str, sep: str = "\n\n") -> tuple[str, int]:
    copies = (2**20) // len((unit + sep).encode("utf-8")) + 1
    return sep.join([unit] * copies), copies


def test_one_megabyte_document_is_never_truncated(ex):
    """1 MiB (UTF-8, ~580k characters) of copies of a fixture document, one copy per window: every copy,
    the last one ~1 MB in included, yields exactly the entities and events of the document alone."""
    text, copies = _megabyte_of(DOC1)
    assert len(text.encode("utf-8")) >= 2**20
    res = ex(text)
    check_result(text, res)
    step = len(DOC1) + 2
    alone = ex(DOC1)
    assert len(alone.entities) >= 5 and alone.events
    want = sorted((t, k * step + s, k * step + e) for k in range(copies) for t, s, e in spans(alone))
    got = sorted(spans(res))
    missing = set(want) - set(got)
    assert not missing, f"{len(missing)} entities lost, first at {min(missing)[1]} of {len(text)} characters"
    assert got == want

    def events(r, shift=0):
        return [(ev.trigger["start"] + shift, ev.trigger["end"] + shift,
                 sorted((a.role, a.start + shift, a.end + shift) for a in ev.arguments)) for ev in r.events]

    assert sorted(events(res)) == sorted(x for k in range(copies) for x in events(alone, k * step))
    last = res.entities[-1]
    assert last.start > len(text) - step and last.text == alone.entities[-1].text


def test_every_word_of_a_million_characters_has_exactly_one_owner(tiny_backbone):
    """Encoding level, 10**6 characters of mixed text: windows fit the model, and ownership is a partition."""
    tok = load_tokenizer(tiny_backbone)
    parts = [p.read_text(encoding="utf-8") for p in sorted(BRAT.glob("*/*.txt"))]
    parts += ["слово " * 40, "x" * 300, "Длинное предложение без точки " * 12, "😀\x00\ud800\r\n"]
    unit = "\n\n".join(parts)
    text = "\n\n".join([unit] * (10**6 // len(unit) + 1))
    assert len(text) >= 10**6
    enc = encode_document(text, tok, max_length=32, overlap=8)
    n = len(enc.words)
    assert n > 100_000
    owned = [0] * n
    prev_lo = -1
    for w in enc.windows:
        assert len(w.input_ids) <= 32 and len(w.word_pos) == w.hi - w.lo
        assert w.lo > prev_lo and w.lo <= w.own_lo <= w.own_hi <= w.hi
        prev_lo = w.lo
        for i in range(w.own_lo, w.own_hi):
            owned[i] += 1
    assert owned == [1] * n
    assert enc.windows[-1].hi == n and enc.words[-1].end > len(text) - 10
    assert all(text[t.start : t.end] == t.text for t in enc.words[-1000:])
