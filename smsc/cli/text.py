"""`smsc text inspect "TEXT"`: how a text would be sent (encoding, data_coding, parts).

The profile is a preset (``--profile tr``) refined by options; the same plan() the engine uses
answers, so what this prints is what a route sends.
"""

from __future__ import annotations

import json

import click

from protocols.sms import TextProfile, TooManyParts, plan
from protocols.sms.decode import decode_short_message
from protocols.sms.nls import LANGUAGE_IDS

#: Named starting points; options override single fields.
PRESETS: dict[str, dict] = {
    "default": {},
    "latin1": {"encodings": ("gsm7", "latin1", "ucs2")},
    "gsm7-dc1": {"gsm7_data_coding": 1},
    "udh16": {"concat": "udh16"},
    "sar": {"concat": "sar"},
    "payload": {"concat": "payload"},
    "smart": {"smart": True},
    **{lang: {"national_languages": (lang,)} for lang in LANGUAGE_IDS},
    "india": {"national_languages": ("hi", "bn", "gu", "kn", "ml", "or", "pa", "ta", "te", "ur")},
}


def build_profile(preset: str, encodings: str | None, nls: str | None, concat: str | None,
                  max_parts: int | None, smart: str | None, gsm7_dc: int | None) -> TextProfile:
    """A TextProfile from a preset name plus overrides; ClickException on a bad value."""
    if preset not in PRESETS:
        raise click.ClickException(
            f"unknown profile {preset!r}; presets: {', '.join(sorted(PRESETS))}"
        )
    fields = dict(PRESETS[preset])
    if encodings is not None:
        fields["encodings"] = tuple(e.strip() for e in encodings.split(",") if e.strip())
    if nls is not None:
        fields["national_languages"] = tuple(x.strip() for x in nls.split(",") if x.strip())
    if concat is not None:
        fields["concat"] = concat
    if max_parts is not None:
        fields["max_parts"] = max_parts
    if smart is not None:
        fields["smart"] = {"off": False, "on": True}.get(smart, smart)
    if gsm7_dc is not None:
        fields["gsm7_data_coding"] = gsm7_dc
    try:
        return TextProfile(**fields)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def describe(text: str, profile: TextProfile, reference: int | None = None) -> dict:
    """The plan as a JSON-ready dict."""
    em = plan(text, profile, reference=reference)
    parts = []
    for i, part in enumerate(em.parts, 1):
        units = part.septets if part.septets is not None else (
            len(part.payload) // 2 if em.encoding == "ucs2" else len(part.payload)
        )
        parts.append({
            "index": i,
            "udh": part.udh.hex(),
            "payload": part.payload.hex(),
            "units": units,
            "septets": part.septets,
            "octets": len(part.payload),
            "text": part.text,
            "sar": list(part.sar) if part.sar else None,
            "decoded": decode_short_message(em.data_coding, part.payload, part.udh),
        })
    return {
        "encoding": em.encoding,
        "data_coding": em.data_coding,
        "segments": em.segments,
        "national_language": em.national_language,
        "concat": em.concat,
        "reference": em.reference,
        "substitutions": em.substitutions,
        "text": em.text,
        "characters": len(text),
        "parts": parts,
    }


@click.group("text")
def text_group() -> None:
    """SMS text encoding and segmentation."""


@text_group.command("inspect")
@click.argument("text")
@click.option("--profile", "preset", default="default", show_default=True,
              help=f"Preset: {', '.join(PRESETS)}.")
@click.option("--encodings", default=None, help="Allowed encodings, cheapest first: gsm7,ucs2,latin1,8bit.")
@click.option("--nls", default=None, help="National shift tables allowed, e.g. tr or hi,bn.")
@click.option("--concat", type=click.Choice(["udh8", "udh16", "sar", "payload"]), default=None)
@click.option("--max-parts", type=int, default=None)
@click.option("--smart", type=click.Choice(["off", "on", "typography", "accents"]), default=None)
@click.option("--gsm7-dc", type=int, default=None, help="data_coding announced for GSM 7-bit.")
@click.option("--reference", type=int, default=None, help="Concatenation reference to use.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect(text: str, preset: str, encodings: str | None, nls: str | None, concat: str | None,
            max_parts: int | None, smart: str | None, gsm7_dc: int | None,
            reference: int | None, as_json: bool) -> None:
    """Show how TEXT would be encoded and split."""
    profile = build_profile(preset, encodings, nls, concat, max_parts, smart, gsm7_dc)
    try:
        info = describe(text, profile, reference)
    except TooManyParts as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
        return
    lang = f", national language {info['national_language']}" if info["national_language"] else ""
    subs = f", {info['substitutions']} look-alike substitutions" if info["substitutions"] else ""
    click.echo(
        f"{info['encoding']} (data_coding {info['data_coding']}{lang}): "
        f"{info['segments']} segment(s), {info['characters']} characters, concat {info['concat']}{subs}"
    )
    for part in info["parts"]:
        sar = f" sar={tuple(part['sar'])}" if part["sar"] else ""
        udh = f" udh={part['udh']}" if part["udh"] else ""
        click.echo(f"  part {part['index']}: {part['units']} units{udh}{sar}  {part['text']!r}")


commands: list = [text_group]
