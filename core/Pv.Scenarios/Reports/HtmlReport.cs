// The A/B report as one self-contained HTML file (no script, no external file): the headline first (verdicts, then
// simulated time B/A with its interval and what it means), then only the metrics that differ, with a chart of their
// B/A ratios (a point per metric, its 95% interval a bar, the line B/A = 1, axes and values) and a chart of simulated
// time per seed on each side; every metric behind a <details> toggle (zero on both sides never); the verdict of each
// seed on each side, linking the HTML view of its counterexample; the provenance last. The charts are ScottPlot's,
// rendered to SVG and inlined (ScottPlot draws with SkiaSharp, whose Linux library comes in its NuGet package).
using System.Globalization;
using System.Net;
using System.Text;
using Pv.Engine;
using Pv.Scenarios.Running;
using ScottPlot;

namespace Pv.Scenarios.Reports;

/// <summary>Writes A/B reports as HTML.</summary>
public static class HtmlReport
{
    private const string ColorA = "#3b6fc4", ColorB = "#e07b1f";

    // Charts take the page's own sans font; a font the machine lacks falls back to Skia's default when measured.
    private const string Font = "DejaVu Sans";

    private static string E(string s) => WebUtility.HtmlEncode(s);

    /// <summary>The HTML of <paramref name="report"/>; links to counterexamples are relative to <paramref name="htmlFile"/>'s folder when given.</summary>
    public static string Render(AbReport report, string? htmlFile = null)
    {
        var sb = new StringBuilder();
        string title = $"{Path.GetFileName(report.Scenario)}: {report.A} vs {report.B}";
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Pv A/B: ").Append(E(title)).Append("</title><style>")
          .Append(Style).Append("</style></head><body>");
        sb.Append("<h1>A/B: ").Append(E(title)).Append("</h1>");
        bool clean = report.FaultA is null && report.FaultB is null && report.Result.A.Concat(report.Result.B).All(s => s.Verdict == Verdict.Clean);
        sb.Append($"<p class=\"headline\"><span class=\"{(clean ? "ok" : "bad")}\">{E(report.VerdictLine)}</span> <strong>{E(report.CostLine)}</strong></p>");
        sb.Append($"<p class=\"sub\">A = {E(report.A)} (baseline), B = {E(report.B)}; {E(report.Size)}. {E(report.DifferSummary)}</p>");

        var differing = report.Differing;
        sb.Append("<h2>What differs</h2>");
        if (differing.Count == 0) sb.Append("<p>No metric differs: every 95% interval includes 1.</p>");
        else
        {
            sb.Append(MetricTable(report, differing, "differing"));
            var drawn = differing.Where(m => m.MeanA != 0).ToList();
            if (drawn.Count > 0) sb.Append("<figure>").Append(RatioChart(drawn)).Append("<figcaption>B/A of each metric that differs: the point is the ratio of means, the bar its 95% bootstrap interval over seeds; the dashed line is B/A = 1 (no change); green: B lower than A, red: B higher.")
                .Append(differing.Count > drawn.Count ? $" Not drawn (no ratio: A has none): {E(string.Join(", ", differing.Where(m => m.MeanA == 0).Select(m => m.Name)))}." : "")
                .Append("</figcaption></figure>");
        }
        if (report.Result.A.Concat(report.Result.B).Any(s => s.Metrics.GetValueOrDefault(AbReport.TimeMetric) != 0))
            sb.Append("<h2>Simulated time per seed</h2><figure>").Append(SeedChart(report))
              .Append("<figcaption>Mean simulated time of a run (ns) in each seed's batch of schedules, A and B side by side.</figcaption></figure>");

        sb.Append($"<details><summary>All {report.Metrics.Count} metrics (zero on both sides left out)</summary>").Append(MetricTable(report, report.Metrics, "all")).Append("</details>");

        sb.Append("<h2>Verdicts per seed</h2>").Append(SeedTable(report, htmlFile));
        sb.Append("<h2>Provenance</h2>").Append(Provenance(report));
        sb.Append("<p class=\"sub\">Means are per run (a seed's mean over its completed schedules, then over seeds). B/A is the ratio of means; the 95% interval is a percentile bootstrap over seeds (")
          .Append(AbComparison.Resamples.ToString("N0", CultureInfo.InvariantCulture)).Append(" resamples, seeds resampled in pairs, deterministic).</p>");
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private const string Style =
        "body{font-family:'DejaVu Sans',sans-serif;margin:1.5em 2em;color:#222;max-width:1100px}" +
        "h1{font-size:1.5em;margin-bottom:.3em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}" +
        ".headline{font-size:1.25em;padding:.6em .8em;background:#f4f6fa;border-left:5px solid #3b6fc4}" +
        ".sub{color:#555;font-size:.9em}table{border-collapse:collapse;font-size:.9em}" +
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}" +
        "th{background:#f0f0f0}.bad{color:#b00;font-weight:bold}.ok{color:#070;font-weight:bold}" +
        ".down{color:#070}.up{color:#b00}code{font-size:.9em;word-break:break-all}" +
        "figure{margin:1em 0}figcaption{color:#555;font-size:.85em;max-width:800px}svg{max-width:100%;height:auto}" +
        "details{margin-top:1.5em}summary{cursor:pointer;font-weight:bold}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}" +
        "dt{font-weight:bold}dd{margin:0}";

    private static string MetricTable(AbReport report, IReadOnlyList<MetricComparison> metrics, string id)
    {
        var sb = new StringBuilder();
        sb.Append($"<table id=\"metrics-{id}\"><tr><th>metric (mean per run)</th><th>A {E(report.A)}</th><th>B {E(report.B)}</th><th>B/A</th><th>95% interval</th><th>change</th></tr>");
        foreach (var m in metrics)
        {
            string change = AbReport.Change(m);
            string cls = !AbReport.Differs(m) ? "" : m.MeanB < m.MeanA ? " class=\"down\"" : " class=\"up\"";
            sb.Append($"<tr><td>{E(m.Name)}</td><td>{AbReport.Mean(m.MeanA)}</td><td>{AbReport.Mean(m.MeanB)}</td><td>{AbReport.Fmt(m.Ratio)}</td>")
              .Append($"<td>{AbReport.Interval(m)}</td><td{cls}>{E(change)}</td></tr>");
        }
        return sb.Append("</table>").ToString();
    }

    private static string SeedTable(AbReport report, string? htmlFile)
    {
        var sb = new StringBuilder();
        sb.Append($"<table id=\"seeds\"><tr><th>seed</th><th>A {E(report.A)}</th><th>B {E(report.B)}</th><th>simulated ns A</th><th>simulated ns B</th></tr>");
        foreach (var (seed, a, b) in report.PerSeed)
            sb.Append($"<tr><td>{seed}</td><td>{Cell(report, "A", seed, a, htmlFile)}</td><td>{Cell(report, "B", seed, b, htmlFile)}</td>")
              .Append($"<td>{(a is null ? "" : AbReport.Mean(a.Metrics.GetValueOrDefault(AbReport.TimeMetric)))}</td><td>{(b is null ? "" : AbReport.Mean(b.Metrics.GetValueOrDefault(AbReport.TimeMetric)))}</td></tr>");
        return sb.Append("</table>").ToString();
    }

    private static string Cell(AbReport report, string side, ulong seed, SeedResult? r, string? htmlFile)
    {
        if (r is null) return "<span class=\"bad\">not run</span>";
        string verdict = r.Verdict.ToText();
        if (r.Verdict == Verdict.Clean) return $"<span class=\"ok\">{E(verdict)}</span>";
        var cx = report.CounterexampleOf(side, seed);
        if (cx is null) return $"<span class=\"bad\">{E(verdict)}</span>";
        string href = htmlFile is null ? new Uri(cx.Html).AbsoluteUri
            : string.Join('/', Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(htmlFile))!, cx.Html).Split(Path.DirectorySeparatorChar).Select(Uri.EscapeDataString));
        return $"<span class=\"bad\">{E(verdict)}</span> <a class=\"cx\" href=\"{E(href)}\">counterexample</a>";
    }

    private static string Provenance(AbReport report)
    {
        var sb = new StringBuilder("<dl>");
        void Item(string name, string html) => sb.Append($"<dt>{E(name)}</dt><dd>{html}</dd>");
        Item("command", report.Command is null ? "not recorded (stored by an older Pv, or merged from shards)" : $"<code>{E(report.Command)}</code>");
        Item("scenario", $"<code>{E(report.Scenario)}</code>");
        Item("scenario SHA-256", $"<code>{E(report.ScenarioHash)}</code>");
        Item("seeds x schedules", E(report.Size));
        Item("Pv", E(report.PvVersion));
        Item("finished (UTC)", E(report.FinishedAt));
        Item("run id", $"<code>{E(report.Run)}</code> (<code>pv report {E(report.Run)}</code> renders this report again from the results store)");
        foreach (var fault in new[] { ("A", report.FaultA), ("B", report.FaultB) }.Where(f => f.Item2 is not null))
            Item($"plugin fault, side {fault.Item1}", $"<span class=\"bad\">{E(fault.Item2!)}</span>");
        sb.Append("</dl><table id=\"plugins\"><tr><th>side</th><th>backend</th><th>plugin</th><th>version</th><th>assembly SHA-256</th></tr>");
        foreach (var p in report.Plugins)
            sb.Append($"<tr><td>{E(p.Side)}</td><td>{E(p.Backend)}</td><td>{E(p.Plugin == "" ? "(not recorded)" : p.Plugin)}</td><td>{E(p.Version)}</td><td><code>{E(p.Sha256)}</code></td></tr>");
        return sb.Append("</table>").ToString();
    }

    /// <summary>A forest plot: a row per metric, the ratio a point, its interval a bar, the line B/A = 1, each labelled with its numbers.</summary>
    private static string RatioChart(IReadOnlyList<MetricComparison> metrics)
    {
        var plot = NewPlot();
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        double max = 1;
        for (int i = 0; i < metrics.Count; i++)
        {
            var m = metrics[i];
            double y = metrics.Count - 1 - i;
            ticks.AddMajor(y, m.Name);
            var color = Color.FromHex(m.Ratio < 1 ? "#1f8a3a" : "#c0392b");
            if (!double.IsNaN(m.Low))
            {
                var bar = plot.Add.Line(m.Low, y, m.High, y);
                bar.LineWidth = 4;
                bar.LineColor = color.WithAlpha(0.55);
                bar.MarkerSize = 0;
                foreach (double end in new[] { m.Low, m.High })
                {
                    var cap = plot.Add.Line(end, y - 0.18, end, y + 0.18);
                    cap.LineWidth = 2;
                    cap.LineColor = color;
                    cap.MarkerSize = 0;
                }
                max = Math.Max(max, m.High);
            }
            var point = plot.Add.Marker(m.Ratio, y, MarkerShape.FilledCircle, 9, color);
            point.MarkerLineColor = color;
            max = Math.Max(max, m.Ratio);
            var label = plot.Add.Text($"{AbReport.Fmt(m.Ratio)} [{AbReport.Interval(m)}]", double.IsNaN(m.High) ? m.Ratio : Math.Max(m.High, m.Ratio), y);
            label.LabelFontSize = 12;
            label.LabelFontName = Font;
            label.LabelFontColor = Colors.Black;
            label.LabelAlignment = Alignment.MiddleLeft;
            label.OffsetX = 8;
        }
        plot.Add.VerticalLine(1, 1.5f, Colors.Gray, LinePattern.Dashed);
        plot.Axes.Left.TickGenerator = ticks;
        plot.Axes.Left.TickLabelStyle.FontSize = 12;
        plot.Axes.SetLimitsY(-0.7, metrics.Count - 0.3);
        // Room on the right for the last label: the numbers are part of the chart.
        plot.Axes.SetLimitsX(0, max * 1.35 + 0.05);
        plot.XLabel("B/A (ratio of means per run; bar: 95% interval over seeds)", 13);
        return Svg(plot, 900, Math.Max(170, 70 + 34 * metrics.Count), "B/A ratio per metric");
    }

    /// <summary>Simulated time per seed: a pair of bars per seed, each labelled with its value.</summary>
    private static string SeedChart(AbReport report)
    {
        var plot = NewPlot();
        var bars = new List<Bar>();
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var seeds = report.PerSeed;
        for (int i = 0; i < seeds.Count; i++)
        {
            var (seed, a, b) = seeds[i];
            ticks.AddMajor(i * 3 + 0.5, seed.ToString(CultureInfo.InvariantCulture));
            foreach (var (r, x, color) in new[] { (a, i * 3.0, ColorA), (b, i * 3.0 + 1, ColorB) })
                if (r is not null)
                {
                    double v = r.Metrics.GetValueOrDefault(AbReport.TimeMetric);
                    bars.Add(new Bar { Position = x, Value = v, FillColor = Color.FromHex(color), Label = seeds.Count <= 12 ? Short(v) : "", LineWidth = 0 });
                }
        }
        var plotted = plot.Add.Bars(bars);
        plotted.ValueLabelStyle.FontSize = 11;
        plotted.ValueLabelStyle.FontName = Font;
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = $"A {report.A}", FillColor = Color.FromHex(ColorA) });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = $"B {report.B}", FillColor = Color.FromHex(ColorB) });
        plot.Legend.FontName = Font;
        // Beside the plot, never over a bar's label.
        plot.ShowLegend(Edge.Right);
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.Margins(bottom: 0, top: 0.25);
        plot.XLabel("seed", 13);
        plot.YLabel("simulated ns per run", 13);
        return Svg(plot, 900, 330, "simulated time per seed");
    }

    private static string Short(double v) =>
        v >= 1e6 ? (v / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M" : v >= 1e4 ? (v / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "k" : v.ToString("0.#", CultureInfo.InvariantCulture);

    private static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set(Font);
        plot.Axes.Left.TickLabelStyle.FontName = Font;
        plot.Axes.Bottom.TickLabelStyle.FontName = Font;
        return plot;
    }

    /// <summary>The plot as inline SVG (no XML declaration), named for screen readers.</summary>
    private static string Svg(Plot plot, int width, int height, string name)
    {
        string svg = plot.GetSvgXml(width, height);
        int start = svg.IndexOf("<svg", StringComparison.Ordinal);
        return "<svg class=\"chart\" role=\"img\" aria-label=\"" + E(name) + "\"" + svg[(start + 4)..];
    }
}
