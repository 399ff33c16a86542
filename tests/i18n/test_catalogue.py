"""The Hindi catalogue is complete, hand-checked by msgfmt, and the committed .mo files match the .po files."""

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale"
HINDI_PO = LOCALE / "hi" / "LC_MESSAGES" / "django.po"

# gettext is part of the machine set-up (.ci/run installs it): without it these checks cannot run.
MSGFMT = shutil.which("msgfmt")
requires_msgfmt = pytest.mark.skipif(MSGFMT is None, reason="msgfmt (Debian's gettext) is not installed")


def msgfmt(po, out):
    """Run ``msgfmt --check --statistics``; return its statistics line (stderr)."""
    result = subprocess.run(
        [MSGFMT, "--check", "--statistics", "-o", str(out), str(po)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


@requires_msgfmt
def test_hindi_catalogue_has_no_untranslated_or_fuzzy_entries(tmp_path):
    statistics = msgfmt(HINDI_PO, tmp_path / "django.mo")

    translated = int(re.search(r"(\d+) translated message", statistics).group(1))
    assert translated > 800
    assert "untranslated" not in statistics, statistics
    assert "fuzzy" not in statistics, statistics


def test_hindi_catalogue_has_no_fuzzy_flags_or_empty_translations():
    """The same, read from the .po text itself (no msgfmt needed)."""
    text = HINDI_PO.read_text(encoding="utf-8")
    header, entries = text.split("\n\n", 1)
    assert "#, fuzzy" not in text
    assert not re.search(r'^msgstr(\[\d+\])? ""\n(?!")', entries, re.M)
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header
    assert '"Language: hi\\n"' in header


@requires_msgfmt
@pytest.mark.parametrize("language", ["hi", "en"])
def test_committed_mo_file_matches_the_po_file(tmp_path, language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    committed = po.with_suffix(".mo")
    fresh = tmp_path / "django.mo"
    msgfmt(po, fresh)

    def catalogue(path):
        with open(path, "rb") as handle:
            return gettext.GNUTranslations(handle)._catalog

    assert catalogue(committed) == catalogue(fresh), f"run `make messages` to recompile {committed}"


def test_hindi_catalogue_is_used_at_run_time():
    with translation.override("hi"):
        assert translation.gettext("Dashboard") == "डैशबोर्ड"
        assert translation.ngettext("%(n)s attempt so far.", "%(n)s attempts so far.", 3) % {"n": 3} == (
            "अब तक 3 प्रयास।"
        )


def test_hindi_translations_keep_every_placeholder():
    """A translation that drops or renames a placeholder would raise (or lie) when formatted."""
    with open(LOCALE / "hi" / "LC_MESSAGES" / "django.mo", "rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    placeholder = re.compile(r"%\(\w+\)[sdrif]|%[sdrif]")
    plural_ids = {}
    for key in catalog:
        if isinstance(key, tuple):
            plural_ids.setdefault(key[0], []).append(catalog[key])
    mismatched = []
    for msgid, msgstr in catalog.items():
        if not msgid or isinstance(msgid, tuple):
            continue
        if sorted(placeholder.findall(msgid)) != sorted(placeholder.findall(msgstr)):
            mismatched.append(msgid)
    assert mismatched == []


def test_no_machine_translation_service_is_called():
    """The catalogue is written by hand: nothing in the code reaches for a translation API at run time."""
    apps = [d for d in Path(settings.BASE_DIR).iterdir() if (d / "__init__.py").exists() or (d / "apps.py").exists()]
    assert {"learners", "curriculum", "progress", "api", "mars_labs"} <= {d.name for d in apps}
    for path in (p for app in apps if app.name != "tests" for p in app.rglob("*.py")):
        source = path.read_text(encoding="utf-8", errors="replace").lower()
        for service in ("translate.googleapis", "googletrans", "deep_translator", "api.deepl", "translator.microsoft"):
            assert service not in source, path
