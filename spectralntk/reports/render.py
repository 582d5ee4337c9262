"""Renderers: pure functions of a report to Markdown, a self-contained HTML page, JSON.

* :func:`render_markdown` — GitHub-flavoured Markdown, figures linked relatively
  (``figures/<name>.png``), so a report folder renders on GitHub as it is.
* :func:`render_html` — one HTML page with the figures embedded as ``data:`` URIs (the
  PNG bytes are passed in, so the function stays pure); no scripts, no external links.
* :func:`render_json` — the typed report (:mod:`spectralntk.reports.models`), indented.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from spectralntk.reports.models import Stat

__all__ = ["render_html", "render_json", "render_markdown", "share_text", "tables"]

Table = tuple[str, list[str], list[list[str]]]


def _g(value: float | None, fmt: str = ".3g", missing: str = "—") -> str:
    return missing if value is None else format(value, fmt)


def _steps(value: float | None) -> str:
    return "not reached" if value is None else f"{value:,.0f}"


def _iqr(stat: Stat, fmt: Callable[[float | None], str]) -> str:
    if stat.count == 0:
        return "—"
    median, q25, q75 = fmt(stat.median), fmt(stat.q25), fmt(stat.q75)
    if median == q25 == q75:  # every seed alike ("not reached" at each one, say)
        return f"{median} (all seeds)" if stat.count > 1 else median
    return f"{median} [{q25}, {q75}]"


#: A share of a mode's start (or a curve gap) above this is shown as "> 10 (diverges)":
#: the amplitude grew tenfold, and its digits say nothing.
LARGE_SHARE = 10.0


def share_text(value: float | None, fmt: str = ".3g") -> str:
    """A share of a mode's start: ``fmt``, "—" for None, "> 10 (diverges)" past 10."""
    if value is not None and value > LARGE_SHARE:
        return f"> {LARGE_SHARE:g} (diverges)"
    return _g(value, fmt)


def _share(value: float | None) -> str:
    return share_text(value)


def _convergence_tables(report: Any) -> list[Table]:
    grid = getattr(report, "eigenvalue", "mu") == "mu"
    dead = {w.width for w in report.widths if w.diverged_seeds >= w.seeds}
    rate = "cημ_k" if grid else "cηNλ_k"
    theory_head = [
        "n",
        "k",
        "a_k",
        "λ_k",
        "μ_k (grid eigenvalue)" if grid else "Rayleigh quotient of K (not the rate)",
        f"rate {rate}",
        "pred. steps (GD)",
        "pred. steps (flow)",
        *(["cημ_k·T"] if grid else []),
        "cηNλ_k·T",
    ]
    cells = {
        (r.width, r.frequency): [
            f"{r.amplitude:.3g}",
            _g(r.analytic_eigenvalue, ".3e"),
            _g(r.train_eigenvalue, ".3e"),
            _g(r.rate, ".2e"),
            _steps(r.predicted_steps_discrete),
            _steps(r.predicted_steps_flow),
            *([_g(r.exponent_at_end)] if grid else []),
            _g(r.analytic_exponent_at_end),
        ]
        for r in report.rows
    }
    widths = list(dict.fromkeys(r.width for r in report.rows))
    frequencies = list(dict.fromkeys(r.frequency for r in report.rows))
    # The analytic theory of the NTK parameterization does not depend on n: one row per k
    # (and not one per width and k) when every width's row reads the same.
    same = len(widths) > 1 and all(
        cells.get((w, k)) == cells.get((widths[0], k)) for w in widths for k in frequencies
    )
    theory = (
        [[f"every n ({len(widths)})", str(k), *cells[widths[0], k]] for k in frequencies]
        if same
        else [[str(w), str(k), *cell] for (w, k), cell in cells.items()]
    )
    head = [
        "n",
        "k",
        "pred. steps (run's curve)",
        "measured steps: median [IQR]",
        "learned",
        "rebounded",
        "left at T: pred. GD / flow",
        "left at T: measured [IQR]",
        "curve gap",
    ]
    rows = []
    for r in report.rows:
        if r.width in dead:
            rows.append([str(r.width), str(r.frequency), *["diverged"] * 7])
            continue
        rows.append(
            [
                str(r.width),
                str(r.frequency),
                _steps(r.predicted_steps_curve),
                _iqr(r.measured_steps, _steps),
                f"{r.seeds_reached}/{r.seeds}",
                str(r.rebounded_seeds),
                f"{_share(r.predicted_fraction_discrete)} / {_share(r.predicted_fraction_flow)}",
                _iqr(r.measured_fraction, _share),
                _share(r.curve_gap),
            ]
        )
    width_head = [
        "n",
        "seeds",
        "diverged",
        "RelErr vs NTK at T",
        "RelErr vs t → ∞",
        "kernel drift",
        "kernel regime",
        "max curve gap",
        "Spearman ρ(k, steps) [p]",
        "ρ(k, left at T) [p]",
        "η_max",
    ]

    def rho(value: float | None, p: float | None) -> str:
        return "—" if value is None else f"{value:.2f} [{_g(p, '.2g')}]"

    def diverged(w: Any) -> str:
        if not w.diverged_seeds:
            return "0"
        ids = getattr(w, "diverged_seed_ids", [])
        steps = getattr(w, "diverged_steps", [])
        at = ", ".join(f"{i} at {t:,}" for i, t in zip(ids, steps, strict=True))
        return f"{w.diverged_seeds} (seed {at})" if at else str(w.diverged_seeds)

    width_rows = [
        [
            str(w.width),
            str(w.seeds),
            diverged(w),
            _iqr(w.relative_error, _g),
            _iqr(w.relative_error_limit, _g),
            _iqr(w.kernel_drift, _g),
            getattr(w, "kernel_regime", "unknown"),
            _share(w.max_curve_gap),
            rho(w.spearman_rho, getattr(w, "spearman_p", None)),
            rho(w.spearman_rho_left, getattr(w, "spearman_p_left", None)),
            _g(w.stability_limit),
        ]
        for w in report.widths
    ]
    rate_note = (
        "rate from the Gram eigenvalue μ_k of the grid"
        if grid
        else "inputs off the grid: the rate uses the continuum value Nλ_k, since the "
        "sampled Fourier vectors are not eigenvectors of K"
    )
    return [
        (
            f"Kernel-regime prediction per frequency (loss {report.loss}, "
            f"c = {report.loss_factor:.4g}, η = {report.lr:g}, T = {report.steps:,}; "
            f"{rate_note})",
            theory_head,
            theory,
        ),
        (
            f"Measured against predicted, per frequency (a mode is learned once it is at "
            f"{report.fraction:g} of its start and stays there; median [IQR] over the seeds "
            "that did not diverge)",
            head,
            rows,
        ),
        (
            "Agreement with the kernel regime, by width (median [IQR] over seeds; the regime "
            f"holds for drift ≤ {getattr(report, 'regime_drift', 0.1):g} and RelErr ≤ "
            f"{getattr(report, 'regime_relative_error', 0.2):g})",
            width_head,
            width_rows,
        ),
    ]


def _log_rows(count: int) -> list[int]:
    """Indices 0, 1, 2, 4, 8, … and the last: a log-spaced selection of table rows."""
    out, i = [0], 1
    while i < count:
        out.append(i)
        i *= 2
    if count - 1 not in out:
        out.append(count - 1)
    return out


def _spectrum_tables(report: Any) -> list[Table]:
    out: list[Table] = []
    fits = [
        [
            str(k.depth),
            k.kernel.upper(),
            _g(k.trace, ".6g"),
            _g(k.decay_exponent, ".4f"),
            _g(k.decay_prefactor, ".4g"),
            f"{k.fit_range[0]}–{k.fit_range[1]}",
            _g(k.frequency_for_90_percent, "d"),
        ]
        for k in report.kernels
    ]
    out.append(
        (
            "Power-law decay λ_k ≈ C·k^-p and trace",
            ["depth", "kernel", "k(0)", "p", "C", "fit range", "k holding 90 %"],
            fits,
        )
    )
    first = report.kernels[0]
    pick = _log_rows(len(first.frequencies))
    for depth in sorted({k.depth for k in report.kernels}):
        ntk = next(k for k in report.kernels if k.depth == depth and k.kernel == "ntk")
        nngp = next(k for k in report.kernels if k.depth == depth and k.kernel == "nngp")
        out.append(
            (
                f"Eigenvalues at depth {depth} (log-spaced rows; all of them in the JSON)",
                ["k", "NTK λ_k", "NTK cum. share", "NNGP λ_k", "NNGP cum. share"],
                [
                    [
                        str(ntk.frequencies[i]),
                        _g(ntk.eigenvalues[i], ".6e"),
                        _g(ntk.cumulative_share[i], ".6f"),
                        _g(nngp.eigenvalues[i], ".6e"),
                        _g(nngp.cumulative_share[i], ".6f"),
                    ]
                    for i in pick
                ],
            )
        )
    if report.widths:
        out.append(
            (
                "Empirical kernels against the analytic limit (median [IQR] over seeds)",
                [
                    "depth",
                    "kernel",
                    "n",
                    "seeds",
                    "‖K − K_∞‖/‖K_∞‖",
                    "Rayleigh rel. error",
                    "leakage",
                ],
                [
                    [
                        str(w.depth),
                        w.kernel.upper(),
                        str(w.width),
                        str(w.seeds),
                        _iqr(w.relative_distance, _g),
                        _iqr(w.rayleigh_relative_error, _g),
                        _iqr(w.leakage, _g),
                    ]
                    for w in report.widths
                ],
            )
        )
    return out


def _fluctuation_tables(report: Any) -> list[Table]:
    def interval(v: float | None, lo: float | None, hi: float | None) -> str:
        return f"{_g(v, '.4g')} [{_g(lo, '.4g')}, {_g(hi, '.4g')}]"

    main = [
        [
            str(c.depth),
            str(c.width),
            f"{c.beta:.4g}",
            str(c.seeds),
            interval(c.ratio, c.ratio_low, c.ratio_high),
            _g(c.exp_5beta, ".4g"),
            _g(None if c.small_beta_log_ratio is None else math.exp(c.small_beta_log_ratio), ".4g"),
            _g(c.log_ratio_over_beta),
            _g(c.profile_spread),
        ]
        for c in report.cells
    ]
    means = [
        [
            str(c.depth),
            str(c.width),
            f"{_g(c.ntk_diagonal_mean, '.5g')} ± {_g(c.ntk_diagonal_mean_stderr, '.2g')}",
            _g(c.exact_ntk_diagonal_mean, ".5g"),
            _g(c.analytic_ntk_diagonal, ".5g"),
            interval(c.first_step_change, c.first_step_change_low, c.first_step_change_high),
            _g(c.first_step_prediction, ".4g"),
            "—" if c.drift is None else _iqr(c.drift, _g),
        ]
        for c in report.cells
    ]
    return [
        (
            "On-diagonal NTK fluctuations against Hanin–Nica (E[K²]/E[K]² ≃ exp(5β))",
            [
                "depth",
                "n",
                "β",
                "seeds",
                "E[K²]/E[K]² [bootstrap]",
                "exp(5β)",
                "first order",
                "log(ratio)/β",
                "profile spread",
            ],
            main,
        ),
        (
            "Mean of K(x, x), first step and drift",
            [
                "depth",
                "n",
                "E[K(x,x)] ± s.e.",
                "exact E[K]",
                "Θ(x,x), n → ∞",
                "first-step ΔK/K per ηΘ [bootstrap]",
                "(dβ/n0)·exp(5β)",
                f"drift after {report.steps:,} steps [IQR]",
            ],
            means,
        ),
    ]


def tables(report: Any) -> list[Table]:
    """The report's tables as (title, header, rows) of strings (shared by all renderers)."""
    out = {
        "spectrum": _spectrum_tables,
        "convergence": _convergence_tables,
        "fluctuation": _fluctuation_tables,
    }[report.report_type](report)
    if report.report_type == "convergence":
        from spectralntk.reports.linearized import gap_table

        out += [t for t in [gap_table(report)] if t is not None]
    return out


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _provenance_lines(report: Any) -> list[str]:
    p = report.provenance
    return [
        f"- run file: `{p.source}` (run type `{p.run_type}`, run schema {p.run_schema_version}, "
        f"written by spectralntk {p.run_spectralntk_version})",
        f"- report: `{report.report_type}`, report schema {report.schema_version}, "
        f"spectralntk {p.report_spectralntk_version}",
        f"- run title: {p.title}",
        f"- history: {p.history}",
    ]


def render_markdown(report: Any) -> str:
    """The report as GitHub Markdown; figures linked as ``figures/<name>.png``."""
    lines = [f"# {report.title}", "", "## Findings", ""]
    lines += [f"- {v}" for v in report.verdicts]
    if report.omitted:
        lines += ["", "## Left out", ""]
        lines += [f"- {v}" for v in report.omitted]
    for title, head, rows in tables(report):
        lines += ["", f"## {title}", ""]
        lines.append("| " + " | ".join(map(_md_cell, head)) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
    if report.figures:
        lines += ["", "## Figures", ""]
        for fig in report.figures:
            links = f"[PNG]({fig.png})" + (f" · [SVG]({fig.svg})" if fig.svg else "")
            lines += [f"### {fig.name.replace('_', ' ')}", "", f"![{fig.name}]({fig.png})", ""]
            lines += [f"{fig.caption} {links}", ""]
    lines += ["", "## Provenance", "", *_provenance_lines(report)]
    lines += [
        "",
        "The typed report is `report.json` (JSON Schema "
        f"`spectralntk/reports/schemas/{report.report_type}.schema.json`).",
        "",
    ]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1150px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0 1.5em;display:block;overflow-x:auto;
font-variant-numeric:tabular-nums}
th,td{border:1px solid #ccc;padding:0.2em 0.45em;text-align:right}
td{white-space:nowrap}
th{background:#f3f3f3;white-space:normal;vertical-align:bottom;max-width:9em}
tbody tr:nth-child(even){background:#fafafa}
figure{margin:1em 0 2em}
figure img{max-width:100%;height:auto}
figcaption{font-size:0.9em;color:#444}
code{background:#f3f3f3;padding:0 0.2em}
"""


def render_html(report: Any, figures: Mapping[str, bytes] | None = None) -> str:
    """One self-contained HTML page of the report.

    Parameters
    ----------
    report : SpectrumReport, ConvergenceReport or FluctuationReport
    figures : mapping of str to bytes, optional
        PNG bytes by figure name; embedded as ``data:image/png;base64`` URIs. Figures
        missing from the mapping are listed by caption only.

    Returns
    -------
    str
        An HTML5 document with no scripts and no external resources.
    """
    esc = html.escape
    data = dict(figures or {})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(report.title)}</h1>",
        "<h2>Findings</h2><ul>",
        *[f"<li>{esc(v)}</li>" for v in report.verdicts],
        "</ul>",
    ]
    if report.omitted:
        parts += ["<h2>Left out</h2><ul>", *[f"<li>{esc(v)}</li>" for v in report.omitted]]
        parts.append("</ul>")
    for title, head, rows in tables(report):
        parts.append(f"<h2>{esc(title)}</h2><table><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in head]
        parts.append("</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        parts.append("</tbody></table>")
    if report.figures:
        parts.append("<h2>Figures</h2>")
    for fig in report.figures:
        parts.append("<figure>")
        if fig.name in data:
            b64 = base64.b64encode(data[fig.name]).decode("ascii")
            parts.append(f'<img alt="{esc(fig.name)}" src="data:image/png;base64,{b64}">')
        parts.append(f"<figcaption>{esc(fig.caption)}</figcaption></figure>")
    parts.append("<h2>Provenance</h2><ul>")
    p = report.provenance
    parts += [
        f"<li>run file: <code>{esc(p.source)}</code> (run type <code>{esc(p.run_type)}</code>, "
        f"run schema {p.run_schema_version}, written by spectralntk "
        f"{esc(p.run_spectralntk_version)})</li>",
        f"<li>report: <code>{esc(report.report_type)}</code>, report schema "
        f"{report.schema_version}, spectralntk {esc(p.report_spectralntk_version)}</li>",
        f"<li>history: {esc(p.history)}</li>",
        f"<li>configuration: <code>{esc(json.dumps(p.config, sort_keys=True))}</code></li>",
        "</ul></body></html>",
        "",
    ]
    return "\n".join(parts)


def render_json(report: Any) -> str:
    """The typed report as indented JSON (validates with :func:`load_report`)."""
    return report.model_dump_json(indent=2) + "\n"
