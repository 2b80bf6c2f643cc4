// The A/B report: one self-contained HTML file (no scripts, no external files) with the verdicts first, then
// inline SVG charts, one per metric family (the name up to its first dot: tlb, ipi, hypercall, table,
// pvops, time, ...), each metric a pair of bars (A, B) and B's bootstrap interval scaled by A's mean, then
// the full table of every metric with ratio and interval.
using System.Globalization;
using System.Net;
using System.Text;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Reports;

/// <summary>Writes A/B reports.</summary>
public static class HtmlReport
{
    /// <summary>The HTML of the comparison of <paramref name="a"/> and <paramref name="b"/> on <paramref name="scenario"/>.</summary>
    public static string Render(string scenario, string a, string b, AbResult result)
    {
        var inv = CultureInfo.InvariantCulture;
        string E(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Pv A/B: ").Append(E(scenario)).Append("</title><style>")
          .Append("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}")
          .Append("td:first-child,th:first-child{text-align:left}.bad{color:#b00;font-weight:bold}.ok{color:#070}svg text{font-size:11px}")
          .Append("</style></head><body>");
        sb.Append("<h1>A/B: ").Append(E(scenario)).Append("</h1>");
        sb.Append("<h2>Verdicts</h2><table><tr><th>side</th><th>backend</th><th>verdict</th></tr>");
        foreach (var (side, name, seeds) in new[] { ("A", a, result.A), ("B", b, result.B) })
        {
            string summary = AbResult.Summary(seeds);
            bool clean = seeds.All(s => s.Verdict == Verdict.Clean);
            sb.Append($"<tr><td>{side}</td><td>{E(name)}</td><td class=\"{(clean ? "ok" : "bad")}\">{E(summary)}</td></tr>");
        }
        sb.Append("</table>");
        sb.Append("<h2>Costs (mean per run; B's 95% bootstrap interval over seeds)</h2>");
        foreach (var family in result.Metrics.Where(m => m.MeanA != 0 || m.MeanB != 0).GroupBy(m => m.Name.Split('.')[0]))
            sb.Append(Chart(family.Key, family.ToList(), a, b));
        sb.Append("<h2>Every metric</h2><table><tr><th>metric</th><th>A: ").Append(E(a)).Append("</th><th>B: ").Append(E(b))
          .Append("</th><th>B/A</th><th>95% interval</th></tr>");
        foreach (var m in result.Metrics)
            sb.Append($"<tr><td>{E(m.Name)}</td><td>{m.MeanA.ToString("N1", inv)}</td><td>{m.MeanB.ToString("N1", inv)}</td><td>{Fmt(m.Ratio)}</td><td>{Fmt(m.Low)}–{Fmt(m.High)}</td></tr>");
        sb.Append("</table></body></html>\n");
        return sb.ToString();
    }

    /// <summary>A ratio for display.</summary>
    public static string Fmt(double v) => double.IsNaN(v) ? "-" : v.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Chart(string family, List<MetricComparison> metrics, string a, string b)
    {
        var inv = CultureInfo.InvariantCulture;
        const int barH = 12, gap = 10, labelW = 260, plotW = 420;
        int rowH = barH * 2 + gap;
        int height = metrics.Count * rowH + 30;
        double max = metrics.Max(m => Math.Max(Math.Max(m.MeanA, m.MeanB), double.IsNaN(m.High) ? 0 : m.High * m.MeanA));
        if (max <= 0) max = 1;
        var sb = new StringBuilder();
        sb.Append($"<h3>{WebUtility.HtmlEncode(family)}</h3><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{labelW + plotW + 120}\" height=\"{height}\">");
        sb.Append($"<rect x=\"{labelW}\" y=\"2\" width=\"10\" height=\"10\" fill=\"#4a7bd0\"/><text x=\"{labelW + 14}\" y=\"11\">A: {WebUtility.HtmlEncode(a)}</text>");
        sb.Append($"<rect x=\"{labelW + 200}\" y=\"2\" width=\"10\" height=\"10\" fill=\"#e08a2c\"/><text x=\"{labelW + 214}\" y=\"11\">B: {WebUtility.HtmlEncode(b)}</text>");
        for (int i = 0; i < metrics.Count; i++)
        {
            var m = metrics[i];
            int y = 20 + i * rowH;
            double wa = m.MeanA / max * plotW, wb = m.MeanB / max * plotW;
            sb.Append($"<text x=\"0\" y=\"{y + barH + 4}\">{WebUtility.HtmlEncode(m.Name)}</text>");
            sb.Append($"<rect x=\"{labelW}\" y=\"{y}\" width=\"{wa.ToString("F1", inv)}\" height=\"{barH}\" fill=\"#4a7bd0\"/>");
            sb.Append($"<rect x=\"{labelW}\" y=\"{y + barH}\" width=\"{wb.ToString("F1", inv)}\" height=\"{barH}\" fill=\"#e08a2c\"/>");
            if (!double.IsNaN(m.Low) && m.MeanA > 0)
            {
                double x1 = labelW + m.Low * m.MeanA / max * plotW, x2 = labelW + m.High * m.MeanA / max * plotW;
                int yc = y + barH + barH / 2;
                sb.Append($"<line x1=\"{x1.ToString("F1", inv)}\" y1=\"{yc}\" x2=\"{x2.ToString("F1", inv)}\" y2=\"{yc}\" stroke=\"#000\"/>");
                sb.Append($"<line x1=\"{x1.ToString("F1", inv)}\" y1=\"{yc - 4}\" x2=\"{x1.ToString("F1", inv)}\" y2=\"{yc + 4}\" stroke=\"#000\"/>");
                sb.Append($"<line x1=\"{x2.ToString("F1", inv)}\" y1=\"{yc - 4}\" x2=\"{x2.ToString("F1", inv)}\" y2=\"{yc + 4}\" stroke=\"#000\"/>");
            }
            sb.Append($"<text x=\"{labelW + plotW + 8}\" y=\"{y + barH + 4}\">B/A {Fmt(m.Ratio)}</text>");
        }
        sb.Append("</svg>");
        return sb.ToString();
    }
}
