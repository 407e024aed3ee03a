"""Corpus loading (named splits and paths), the diplomatic subset, the download script, real corpora."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path

import pytest

from diplomat_ie.data.brat import ReadStats
from diplomat_ie.data.corpora import (
    FACTRUEVAL_TO_COARSE,
    NEREL_TO_COARSE,
    load_split,
    split_dir,
    split_names,
    to_coarse,
)
from diplomat_ie.data.document import CorpusError, Document, Entity, Relation, Span
from diplomat_ie.data.factrueval import FactRuEvalStats
from diplomat_ie.data.jsonl import write_jsonl
from diplomat_ie.data.subset import (
    Keyword,
    diplomatic_subset,
    find_keywords,
    is_diplomatic,
    load_keywords,
    stem,
)
from diplomat_ie.resources import resource_path
from diplomat_ie.utils import DATA_ROOT_ENV, data_root

REPO = Path(__file__).resolve().parents[1]


def _real_root() -> Path:
    root = data_root()
    return root if root.is_dir() else REPO.parent / "shared" / "datasets"


def _brat_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.txt").write_text("Посол Франции прибыл в Москву.", encoding="utf-8")
    (folder / "a.ann").write_text("T1\tPROFESSION 0 5\tПосол\nT2\tCOUNTRY 6 13\tФранции\n"
                                  "T3\tCITY 23 29\tМоскву\nR1\tORIGINS_FROM Arg1:T1 Arg2:T2\t\n", encoding="utf-8")
    return folder


def _fre_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "book_1.txt").write_text("Визит в Москву", encoding="utf-8")
    (folder / "book_1.tokens").write_text("1 0 5 Визит\n2 6 1 в\n3 8 6 Москву\n", encoding="utf-8")
    (folder / "book_1.spans").write_text("7 loc_name 8 6 3 1  # 3 Москву\n", encoding="utf-8")
    (folder / "book_1.objects").write_text("9 LocOrg 7 # Москву\n", encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------- load_split


def test_named_splits_under_a_root(tmp_path, monkeypatch):
    _brat_folder(tmp_path / "nerel" / "dev")
    _fre_folder(tmp_path / "factrueval-2016" / "testset")
    assert split_names("nerel") == ["train", "dev", "test"] and split_names("factrueval") == ["dev", "test"]
    assert split_dir("factrueval", "test", tmp_path) == tmp_path / "factrueval-2016" / "testset"
    (doc,) = load_split("nerel", "dev", root=tmp_path)
    assert [e.type for e in doc.entities] == ["PROFESSION", "COUNTRY", "CITY"]
    stats = FactRuEvalStats()
    (doc,) = load_split("factrueval", "test", root=tmp_path, stats=stats)
    assert [(e.id, e.type, e.text) for e in doc.entities] == [("T9", "LocOrg", "Москву")]
    assert stats.objects == 1
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    assert [d.id for d in load_split("NEREL", "dev")] == ["a"]


def test_missing_folder_message(tmp_path):
    with pytest.raises(CorpusError) as info:
        load_split("nerel", "train", root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "nerel" / "train") in msg
    assert DATA_ROOT_ENV in msg and "scripts/download_data.py" in msg


@pytest.mark.parametrize("corpus,split,fragment", [
    ("ontonotes", "train", "unknown corpus"),
    ("nerel", "validation", "has no split"),
    ("factrueval", "train", "has no split"),
    ("nerel", None, "needs a split"),
    ("missing/corpus.jsonl", None, "not found"),
])
def test_bad_corpus_or_split(tmp_path, corpus, split, fragment):
    with pytest.raises(CorpusError, match=fragment):
        load_split(corpus, split, root=tmp_path)


def test_path_corpora(tmp_path):
    brat = _brat_folder(tmp_path / "brat")
    fre = _fre_folder(tmp_path / "fre")
    jsonl = tmp_path / "c.jsonl"
    write_jsonl(load_split(str(brat)), jsonl)
    assert [d.id for d in load_split(jsonl, "ignored")] == ["a"]
    assert load_split(brat)[0].to_dict() == load_split(str(jsonl))[0].to_dict()
    assert load_split(fre)[0].entities[0].type == "LocOrg"


def test_to_coarse_and_mappings():
    doc = Document("d", "Посол Франции", entities=[Entity("T1", "PROFESSION", [Span(0, 5)], "Посол"),
                                                   Entity("T2", "COUNTRY", [Span(6, 13)], "Франции")],
                   relations=[Relation("R1", "ORIGINS_FROM", "T1", "T2")])
    (out,) = to_coarse([doc], NEREL_TO_COARSE)
    assert [(e.id, e.type) for e in out.entities] == [("T2", "LOC")] and out.relations == []
    assert doc.entities[1].type == "COUNTRY"  # input untouched
    assert set(FACTRUEVAL_TO_COARSE.values()) == set(NEREL_TO_COARSE.values()) == {"PER", "ORG", "LOC"}


# ------------------------------------------------------------------------------- diplomatic subset

SUBSET_CASES = [
    ("Визитом президента в Китай", True),
    ("в ходе визита", True),
    ("на переговорах в Женеве", True),
    ("Министром иностранных дел назначен", True),
    ("встретился с министром иностранных дел Франции", True),
    ("глава МИДа России", True),
    ("послом США в России", True),
    ("здание посольства", True),
    ("делегацией Японии", True),
    ("Генсек ООН", True),
    ("встреча на высшем уровне", True),
    ("госсекретаря США", True),
    ("новые санкции", True),
    ("после матча", False),  # not "посол"
    ("министр обороны", False),
    ("министр иностранных", False),  # a phrase needs all its words
    ("консультации врача", False),  # "консул" + too long a suffix
    ("делегировать полномочия", False),
    ("Министерство внутренних дел", False),
    ("встреча на высоком уровне", False),
    ("", False),
]


@pytest.mark.parametrize("text,expected", SUBSET_CASES)
def test_is_diplomatic(text, expected):
    assert is_diplomatic(text) is expected


def test_keywords_and_subset(tmp_path):
    assert [stem(w) for w in ["переговоры", "визит", "делегация", "иностранных", "дел", "Госсекретарь"]] == [
        "переговор", "визит", "делегац", "иностранн", "дел", "госсекретар"]
    kws = load_keywords()
    assert len(kws) >= 10 and any(k.phrase == "министр иностранных дел" for k in kws)
    assert load_keywords("default") == kws == load_keywords(resource_path("keywords"))
    custom = tmp_path / "k.yaml"
    custom.write_text("keywords:\n  - ёлка\n  - {phrase: посол, forms: [посла]}\n", encoding="utf-8")
    mine = load_keywords(custom)
    assert find_keywords("Ёлки и посла", mine) == ["ёлка", "посол"]
    docs = [Document("a", "Визит посла."), Document("b", "Матч.")]
    assert [d.id for d in diplomatic_subset(docs)] == ["a"]
    assert Keyword.from_phrase("саммит").pattern.search("саммита") is not None


@pytest.mark.parametrize("content,fragment", [
    ("words: [a]\n", "non-empty 'keywords:'"),
    ("keywords:\n  - {stems: [a]}\n", "neither a phrase"),
    ("keywords:\n  - {phrase: министр дел, stems: [министр]}\n", "one non-empty stem per word"),
])
def test_bad_keyword_files(tmp_path, content, fragment):
    path = tmp_path / "k.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=fragment):
        load_keywords(path)
    with pytest.raises(FileNotFoundError):
        load_keywords(tmp_path / "absent.yaml")


# ------------------------------------------------------------------------------- download script


def _download_module():
    """Import scripts/download_data.py (not a package module) once."""
    if "download_data" not in sys.modules:
        spec = importlib.util.spec_from_file_location("download_data", REPO / "scripts" / "download_data.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["download_data"] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
    return sys.modules["download_data"]


def _fake_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return path


def test_download_extraction_from_fake_zip(tmp_path):
    dl = _download_module()
    files = {f"NEREL-master/NEREL-v1.1/{s}/1.txt": s for s in ("train", "dev", "test")}
    files.update({"NEREL-master/NEREL-v1.1/train/1.ann": "T1", "NEREL-master/NEREL-v1.0/train/old.txt": "x",
                  "NEREL-master/README.md": "readme", "NEREL-master/resources/pic.jpg": "jpg"})
    archive = _fake_zip(tmp_path / "nerel.zip", files)
    root = tmp_path / "data"
    target = dl.extract_dataset(archive, dl.DATASETS["nerel"], root)
    assert target == root / "nerel"
    got = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert got == ["README.md", "dev/1.txt", "test/1.txt", "train/1.ann", "train/1.txt"]
    assert sorted(p.name for p in root.iterdir()) == ["nerel"]  # no temporary leftovers
    (target / "train" / "1.txt").write_text("edited", encoding="utf-8")
    assert dl.extract_dataset(archive, dl.DATASETS["nerel"], root) is None  # exists: skipped
    assert (target / "train" / "1.txt").read_text(encoding="utf-8") == "edited"
    assert dl.extract_dataset(archive, dl.DATASETS["nerel"], root, force=True) == target
    assert (target / "train" / "1.txt").read_text(encoding="utf-8") == "train"
    assert sorted(p.name for p in root.iterdir()) == ["nerel"]


def test_download_extraction_errors(tmp_path):
    dl = _download_module()
    root = tmp_path / "data"
    partial = _fake_zip(tmp_path / "p.zip", {"factRuEval-2016-master/devset/book_1.txt": "x"})
    with pytest.raises(dl.DownloadError, match="lacks testset"):
        dl.extract_dataset(partial, dl.DATASETS["factrueval"], root)
    evil = _fake_zip(tmp_path / "e.zip", {"r/devset/../../../evil.txt": "x", "r/testset/a": "y"})
    with pytest.raises(dl.DownloadError, match="outside"):
        dl.extract_dataset(evil, dl.DATASETS["factrueval"], root)
    (tmp_path / "bad.zip").write_text("not a zip", encoding="utf-8")
    with pytest.raises(dl.DownloadError, match="not a zip"):
        dl.extract_dataset(tmp_path / "bad.zip", dl.DATASETS["factrueval"], root)
    assert list(root.iterdir()) == []
    with pytest.raises(dl.DownloadError, match="offline"):
        dl.download(["http://127.0.0.1:9/none.zip"], tmp_path / "x.zip", timeout=2)
    ok = _fake_zip(tmp_path / "ok.zip", {"r/devset/a": "1", "r/testset/b": "2"})
    assert dl.main(["--root", str(root), "--only", "factrueval", "--zip", str(ok)]) == 0
    assert (root / "factrueval-2016" / "testset" / "b").exists()


# ------------------------------------------------------------------------------- real corpora


def test_real_nerel_splits():
    root = _real_root()
    if not (root / "nerel").is_dir():
        pytest.skip(f"NEREL not found under {root} (set {DATA_ROOT_ENV} or run scripts/download_data.py)")
    sizes = {}
    for split in ("train", "dev", "test"):
        stats = ReadStats()
        docs = load_split("nerel", split, root=root, lenient=True, stats=stats)
        sizes[split] = (len(docs), stats.total_skipped)
        for doc in docs:
            doc.validate()
    assert sizes == {"train": (746, 1), "dev": (94, 0), "test": (93, 0)}
    with pytest.raises(CorpusError, match="21013_text.ann:52"):
        load_split("nerel", "train", root=root)


def test_real_factrueval_exact_offsets():
    root = _real_root()
    if not (root / "factrueval-2016").is_dir():
        pytest.skip(f"factRuEval-2016 not found under {root} (set {DATA_ROOT_ENV} or run "
                    "scripts/download_data.py)")
    for split, expected in (("dev", 122), ("test", 132)):
        stats = FactRuEvalStats()
        docs = load_split("factrueval", split, root=root, stats=stats)  # strict: every token text checked
        assert len(docs) == expected and stats.total_skipped == 0
        assert stats.objects == sum(len(d.entities) for d in docs) > 2000
        for doc in docs:
            doc.validate()
            assert all(doc.text[e.start:e.end] == e.text and e.text.strip() == e.text for e in doc.entities)
