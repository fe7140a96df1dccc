"""`classroom faces`: calibrating face matching on a bureau's own labelled photos."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from classroom import cli_base

app = typer.Typer(help="Face recognition.", no_args_is_help=True)


@app.command("calibrate")
def calibrate(
    pairs: Annotated[
        Path,
        typer.Argument(
            help="CSV of file_x,file_y,Decision (Yes: the same person, No: different people).",
            exists=True,
            dir_okay=False,
        ),
    ],
    images: Annotated[
        Path | None,
        typer.Option(
            "--images", help="Folder of the photos (default: the CSV's folder).", file_okay=False
        ),
    ] = None,
    target_fmr: Annotated[
        float,
        typer.Option("--target-fmr", min=0.0, max=0.5, help="False match rate to aim for."),
    ] = 0.001,
    probe_face_px: Annotated[
        int | None,
        typer.Option(
            "--probe-face-px",
            min=40,
            max=1000,
            help="Show each photo as the kiosk's camera would, its face this many pixels across.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The results as JSON.")] = False,
) -> None:
    """Measure the configured match threshold and margin on labelled photos with the shipped
    model, and the threshold that meets --target-fmr on them. Set the result as
    [faces] match_threshold (and match_margin) in the settings, then restart the portal.
    Exit status: 0 measured, 1 the pairs or a photo cannot be used."""
    from classroom.faces.calibration import (
        CalibrationError,
        embed_photos,
        identification,
        labels,
        pair_scores,
        rates,
        read_pairs,
        threshold_for,
    )
    from classroom.faces.engine import FaceEngine

    faces = cli_base.settings().faces
    try:
        listed = read_pairs(pairs)
        lab = labels(listed)
        folder = images or pairs.parent
        embeddings, probes = embed_photos(FaceEngine(), folder, lab.identity, probe_face_px)
        scores = pair_scores(embeddings, lab, probes)
        suggested = threshold_for(scores, target_fmr)
    except CalibrationError as exc:
        raise cli_base.fail(str(exc)) from None
    n_impostor = len(scores.impostor)
    conf = rates(scores, faces.match_threshold)
    found = identification(embeddings, lab, faces.match_threshold, faces.match_margin, probes)
    sug = rates(scores, suggested)
    people = len(set(lab.identity.values()))
    if as_json:
        result = {
            "photos": len(embeddings),
            "probe_face_px": probe_face_px,
            "identities": people,
            "genuine_pairs": len(scores.genuine),
            "impostor_pairs": n_impostor,
            "genuine_lowest": float(scores.genuine.min()) if len(scores.genuine) else None,
            "impostor_highest": float(scores.impostor.max()),
            "configured": asdict(conf) | {"margin": faces.match_margin},
            "configured_identification": asdict(found),
            "target_fmr": target_fmr,
            "suggested": asdict(sug),
            # No false match among N impostor pairs: the rate is below 3/N at 95% confidence.
            "fmr_resolvable_to": 3 / n_impostor,
        }
        typer.echo(json.dumps(result))
        return
    typer.echo(
        f"{len(embeddings)} photos of {people} people: "
        f"{len(scores.genuine)} genuine pairs, {n_impostor} impostor pairs"
    )
    typer.echo(
        f"configured threshold {conf.threshold}: false matches {conf.false_match:.2%}, "
        f"false non-matches {conf.false_non_match:.2%}"
    )
    typer.echo(
        f"as the kiosk decides (margin {faces.match_margin}): {found.found} of {found.shown} "
        f"found, {found.wrong_person} taken for someone else, {found.refused} refused; "
        f"{found.strangers_taken} of {found.strangers_shown} strangers taken for someone"
    )
    typer.echo(
        f"threshold for a false match rate of {target_fmr:g}: {sug.threshold} "
        f"(false non-matches {sug.false_non_match:.2%})"
    )
    if target_fmr < 3 / n_impostor:
        typer.echo(
            f"note: {n_impostor} impostor pairs resolve a false match rate down to "
            f"{3 / n_impostor:.2%} only; about {int(3 / target_fmr)} are needed for {target_fmr:g}"
        )
