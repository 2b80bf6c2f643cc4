// The A/B report in the text formats of `pv report --format`: Markdown (the HTML report's content, charts left out:
// headline, what differs, every metric, verdicts per seed, provenance), CSV (one row per metric not zero on both
// sides, with a "differs" column; RFC 4180 quoting) and JSON (everything, means in their real unit: mean per run,
// never the store's thousandths). Numbers use the invariant culture, so the output is the same on every machine.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Pv.Engine;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Reports;

/// <summary>Writes A/B reports as Markdown, CSV and JSON.</summary>
public static class AbReportText
{
    /// <summary>The report as Markdown.</summary>
    public static string Markdown(AbReport r)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# A/B: {Path.GetFileName(r.Scenario)}: {Md(r.A)} vs {Md(r.B)}").AppendLine();
        sb.AppendLine($"**{Md(r.Headline)}**").AppendLine();
        sb.AppendLine($"A = {Md(r.A)} (baseline), B = {Md(r.B)}; {r.Size}. {r.DifferSummary}").AppendLine();
        sb.AppendLine("## What differs").AppendLine();
        if (r.Differing.Count == 0) sb.AppendLine("No metric differs: every 95% interval includes 1.").AppendLine();
        else MetricTable(sb, r, r.Differing);
        sb.AppendLine("## All metrics (zero on both sides left out)").AppendLine();
        MetricTable(sb, r, r.Metrics);
        sb.AppendLine("## Verdicts per seed").AppendLine();
        sb.AppendLine($"| seed | A {Md(r.A)} | B {Md(r.B)} |").AppendLine("|---:|---|---|");
        foreach (var (seed, a, b) in r.PerSeed) sb.AppendLine($"| {seed} | {Cell(r, "A", seed, a)} | {Cell(r, "B", seed, b)} |");
        sb.AppendLine().AppendLine("## Provenance").AppendLine();
        sb.AppendLine($"- command: {(r.Command is null ? "not recorded (stored by an older Pv, or merged from shards)" : $"`{r.Command}`")}");
        sb.AppendLine($"- scenario: `{r.Scenario}`, SHA-256 `{r.ScenarioHash}`");
        sb.AppendLine($"- seeds x schedules: {r.Size}");
        sb.AppendLine($"- Pv {r.PvVersion}; finished {r.FinishedAt} (UTC); run id `{r.Run}`");
        foreach (var p in r.Plugins) sb.AppendLine($"- {p.Side} {Md(p.Backend)}: plugin {(p.Plugin == "" ? "(not recorded)" : Md(p.Plugin))} {p.Version}, assembly SHA-256 `{p.Sha256}`");
        foreach (var (side, fault) in new[] { ("A", r.FaultA), ("B", r.FaultB) }.Where(f => f.Item2 is not null)) sb.AppendLine($"- plugin fault, side {side}: {Md(fault!)}");
        return sb.ToString();
    }

    private static void MetricTable(StringBuilder sb, AbReport r, IReadOnlyList<MetricComparison> metrics)
    {
        sb.AppendLine($"| metric (mean per run) | A {Md(r.A)} | B {Md(r.B)} | B/A | 95% interval | change |").AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var m in metrics)
            sb.AppendLine($"| {Md(m.Name)} | {AbReport.Mean(m.MeanA)} | {AbReport.Mean(m.MeanB)} | {AbReport.Fmt(m.Ratio)} | {AbReport.Interval(m)} | {AbReport.Change(m)} |");
        sb.AppendLine();
    }

    private static string Cell(AbReport r, string side, ulong seed, SeedResult? s) =>
        s is null ? "not run" : r.CounterexampleOf(side, seed) is { } cx ? $"{s.Verdict.ToText()} ([counterexample]({new Uri(cx.Html).AbsoluteUri}))" : s.Verdict.ToText();

    // Table cells and emphasis: a '|' or '*' in a name would end them.
    private static string Md(string s) => s.Replace("|", "\\|").Replace("*", "\\*");

    /// <summary>The report as CSV: a header, then one row per metric not zero on both sides (means per run; empty where no ratio).</summary>
    public static string Csv(AbReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("metric,mean_a,mean_b,ratio_b_a,low_95,high_95,differs\n");
        // Six decimals: the store keeps thousandths of a seed's mean; more digits would only show floating-point noise.
        string N(double v) => double.IsNaN(v) ? "" : v.ToString("0.######", inv);
        foreach (var m in r.Metrics)
            sb.Append(Field(m.Name)).Append(',').Append(N(m.MeanA)).Append(',').Append(N(m.MeanB)).Append(',').Append(N(m.Ratio)).Append(',')
              .Append(N(m.Low)).Append(',').Append(N(m.High)).Append(',').Append(AbReport.Differs(m) ? "true" : "false").Append('\n');
        return sb.ToString();
    }

    private static string Field(string s) => s.IndexOfAny([',', '"', '\n', '\r']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";

    // Relaxed escaping: the text keeps its dashes and apostrophes readable (the output is a file, never inlined in HTML).
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The report as JSON: headline, provenance, verdicts, every seed, every metric (means per run, ratios null where none).</summary>
    public static string JsonText(AbReport r)
    {
        double? N(double v) => double.IsNaN(v) ? null : v;
        return JsonSerializer.Serialize(new
        {
            run = r.Run, headline = r.Headline, verdicts = r.VerdictLine, cost = r.CostLine,
            units = new { means = "mean per run: each seed's mean over its completed PCT schedules, then the mean over seeds (the real value, not the thousandths the store keeps)", interval = "95% percentile bootstrap of B/A over seeds" },
            scenario = r.Scenario, scenarioSha256 = r.ScenarioHash, a = r.A, b = r.B, seeds = r.Seeds, schedulesPerSeed = r.Schedules,
            command = r.Command, pvVersion = r.PvVersion, finishedAt = r.FinishedAt, plugins = r.Plugins,
            pluginFaults = new { a = r.FaultA, b = r.FaultB },
            perSeed = r.PerSeed.Select(s => new
            {
                seed = s.Seed, a = s.A?.Verdict.ToText(), b = s.B?.Verdict.ToText(),
                counterexampleA = r.CounterexampleOf("A", s.Seed)?.Json, counterexampleB = r.CounterexampleOf("B", s.Seed)?.Json,
            }),
            metrics = r.Metrics.Select(m => new { name = m.Name, meanA = m.MeanA, meanB = m.MeanB, ratio = N(m.Ratio), low = N(m.Low), high = N(m.High), differs = AbReport.Differs(m) }),
        }, Json) + "\n";
    }
}
