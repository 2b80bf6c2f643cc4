// What an A/B report says, whatever it is rendered as (HTML, Markdown, CSV, JSON): the headline (both verdicts, then
// simulated time B/A with its interval and what it means), the metrics that differ, every metric, the verdict of each
// seed on each side with its counterexample, and the provenance (command line, scenario path and SHA-256, seeds x
// schedules, Pv version, each plugin's name, version and assembly hash, date). Built from a comparison just run or
// from the results store (`pv report`): the same rows give the same report. A metric "differs" when its 95% interval
// excludes 1, or when one side has it and the other not; a metric zero on both sides is never shown.
using System.Globalization;
using Pv.Engine;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Reports;

/// <summary>An A/B comparison with what a report shows of it.</summary>
/// <param name="Run">The comparison's id in the results store (its session key): <c>pv report RUN</c> renders it again.</param>
/// <param name="Scenario">The scenario file (absolute).</param>
/// <param name="ScenarioHash">Its SHA-256.</param>
/// <param name="A">Backend A, the baseline.</param>
/// <param name="B">Backend B.</param>
/// <param name="Seeds">Seeds per side asked for.</param>
/// <param name="Schedules">PCT schedules per seed.</param>
/// <param name="Result">The comparison.</param>
/// <param name="Command">The command line, or null when the store does not say (written by an older Pv, or merged).</param>
/// <param name="Plugins">The plugin of each side.</param>
/// <param name="FaultA">The plugin fault that stopped side A, or null.</param>
/// <param name="FaultB">The plugin fault that stopped side B, or null.</param>
/// <param name="Counterexamples">Counterexamples of violating seeds.</param>
/// <param name="PvVersion">The Pv that ran it.</param>
/// <param name="FinishedAt">When it finished (UTC, ISO 8601).</param>
public sealed record AbReport(string Run, string Scenario, string ScenarioHash, string A, string B, int Seeds, int Schedules, AbResult Result,
    string? Command, IReadOnlyList<PluginProvenance> Plugins, string? FaultA, string? FaultB, IReadOnlyList<CounterexampleLink> Counterexamples,
    string PvVersion, string FinishedAt)
{
    /// <summary>The metric the headline's cost is: simulated time per run.</summary>
    public const string TimeMetric = "time.simulated_ns";

    /// <summary>The report of <paramref name="record"/>'s comparison just run as <paramref name="session"/>.</summary>
    public static AbReport Of(AbSession session, AbResult result, ComparisonRecord record) =>
        new(record.Session, Path.GetFullPath(session.A.Scenario.Path), session.A.Scenario.Hash, record.A, record.B, record.Seeds, record.Schedules,
            result, record.Command, record.Plugins, record.FaultA, record.FaultB, record.Counterexamples, record.PvVersion, record.FinishedAt);

    /// <summary>
    /// The report of stored comparison <paramref name="run"/> (a session key, or a prefix of one that names a single
    /// comparison; <c>last</c>: the latest comparison stored).
    /// </summary>
    /// <exception cref="PvInputException">No comparison, or several, match <paramref name="run"/>.</exception>
    public static AbReport Load(ResultsStore store, string run)
    {
        var all = store.Recent(int.MaxValue);
        var sessions = all.Where(r => r.Kind == "ab").Select(r => r.Session).Distinct().ToList();
        string session = run == "last" ? sessions.FirstOrDefault() ?? throw new PvInputException($"{store.Path} holds no A/B comparison")
            : sessions.Where(s => s.StartsWith(run, StringComparison.OrdinalIgnoreCase)).ToList() switch
            {
                [var one] => one,
                [] => throw new PvInputException($"{store.Path} holds no A/B comparison '{run}' (pv history --kind ab lists them)"),
                var many => throw new PvInputException($"'{run}' names {many.Count} comparisons in {store.Path} ({string.Join(", ", many)}); give more of the id"),
            };
        var rows = store.Session(session);
        var record = store.FindComparison(session);
        string hash = rows[0].ScenarioHash;
        var backends = rows.Select(r => r.Backend).Distinct().ToList();
        int seeds = record?.Seeds ?? (int)rows.Max(r => r.Seed) + 1;
        int schedules = record?.Schedules ?? (int)rows[0].Schedules;
        // Without a record (an older Pv, a merged store), which backend is A is the one whose order gives the session key.
        var (a, b) = record is not null ? (record.A, record.B) : SidesOf(session, hash, backends, seeds, schedules, store.Path);
        var result = AbSession.FromRows(rows.Where(r => r.Backend == a), rows.Where(r => r.Backend == b), [.. Enumerable.Range(0, seeds).Select(s => (ulong)s)]);
        // The rows name each side's plugin version and hash, not the plugin's name in plugins.json.
        var plugins = record?.Plugins ?? [.. new[] { ("A", a), ("B", b) }.Select(x => (x.Item1, x.Item2, Row: rows.FirstOrDefault(r => r.Backend == x.Item2)))
            .Select(x => new PluginProvenance(x.Item1, x.Item2, "", x.Row?.PluginVersion ?? "", x.Row?.PluginSha256 ?? ""))];
        return new AbReport(session, rows[0].Scenario, hash, a, b, seeds, schedules, result, record?.Command, plugins, record?.FaultA, record?.FaultB,
            record?.Counterexamples ?? [], record?.PvVersion ?? rows[^1].PvVersion, record?.FinishedAt ?? rows.Max(r => r.FinishedAt)!);
    }

    private static (string A, string B) SidesOf(string session, string hash, List<string> backends, int seeds, int schedules, string path)
    {
        if (backends.Count == 2)
            foreach (var (a, b) in new[] { (backends[0], backends[1]), (backends[1], backends[0]) })
                if (StoredRuns.Session("ab", hash, a, b, seeds, schedules) == session) return (a, b);
        // The same backend on both sides stores one backend's rows; so does a comparison interrupted before side B.
        if (backends.Count == 1 && StoredRuns.Session("ab", hash, backends[0], backends[0], seeds, schedules) == session) return (backends[0], backends[0]);
        throw new PvInputException($"{path}: comparison {session} is incomplete (its seeds are not all stored); run it again, with --resume to go on");
    }

    /// <summary>The metrics a report shows: every metric not zero on both sides, those that differ first (simulated time, then by how much).</summary>
    public IReadOnlyList<MetricComparison> Metrics =>
        [.. Result.Metrics.Where(m => m.MeanA != 0 || m.MeanB != 0).OrderByDescending(m => m.Name == TimeMetric).ThenByDescending(Differs).ThenByDescending(Effect).ThenBy(m => m.Name, StringComparer.Ordinal)];

    /// <summary>The metrics that differ, in <see cref="Metrics"/>' order.</summary>
    public IReadOnlyList<MetricComparison> Differing => [.. Metrics.Where(Differs)];

    /// <summary>
    /// <paramref name="m"/> differs between A and B: its 95% interval excludes 1, or one side has it and the other not.
    /// </summary>
    public static bool Differs(MetricComparison m) =>
        (m.MeanA == 0) != (m.MeanB == 0) || (!double.IsNaN(m.Low) && (m.Low > 1 || m.High < 1));

    // How far B is from A: |log B/A|, one side alone the farthest.
    private static double Effect(MetricComparison m) =>
        m.MeanA == 0 || m.MeanB == 0 ? double.PositiveInfinity : Math.Abs(Math.Log(m.Ratio));

    /// <summary>What B is relative to A, in words: <c>-37%</c>, <c>+12%</c>, <c>B only</c>, <c>A only</c>, <c>same</c>.</summary>
    public static string Change(MetricComparison m) =>
        m.MeanA == 0 ? (m.MeanB == 0 ? "none" : "B only") : m.MeanB == 0 ? "A only"
        : Math.Round((m.Ratio - 1) * 100) is var pct && pct == 0 ? "same" : pct.ToString("+0;-0", CultureInfo.InvariantCulture) + "%";

    /// <summary>The verdicts in one sentence: <c>Both clean.</c>, or each side's.</summary>
    public string VerdictLine
    {
        get
        {
            bool clean = FaultA is null && FaultB is null && Result.A.Concat(Result.B).All(s => s.Verdict == Verdict.Clean);
            return clean ? $"Both clean ({Result.A.Count} seeds each)."
                : $"A {A}: {SideText(Result.A, FaultA)}; B {B}: {SideText(Result.B, FaultB)}.";
        }
    }

    /// <summary>One side's verdicts, or where a plugin fault stopped it.</summary>
    public static string SideText(IReadOnlyList<SeedResult> seeds, string? fault) =>
        fault is null ? AbResult.Summary(seeds)
        : $"PLUGIN FAULT in seed {seeds.Count} ({fault}){(seeds.Count == 0 ? "" : $"; before it: {AbResult.Summary(seeds)}")}";

    /// <summary>
    /// The cost in one sentence: <c>Simulated time B/A 0.63 [0.62–0.64]: B is 37% cheaper.</c>, or that the interval
    /// includes 1 (no clear difference), or why there is no ratio.
    /// </summary>
    public string CostLine
    {
        get
        {
            var t = Result.Metrics.FirstOrDefault(m => m.Name == TimeMetric);
            if (t is null) return "Simulated time: not compared (no seed finished on both sides).";
            if (t.MeanA == 0) return t.MeanB == 0 ? "Simulated time: zero on both sides." : "Simulated time: A took none, B some (no ratio).";
            string ratio = $"Simulated time B/A {Fmt(t.Ratio)} [{Fmt(t.Low)}–{Fmt(t.High)}]";
            if (t.Low == 1 && t.High == 1) return $"{ratio}: the same in every seed.";
            if (!Differs(t)) return $"{ratio}: no clear difference (the 95% interval includes 1).";
            double pct = Math.Abs(1 - t.Ratio) * 100;
            return $"{ratio}: B is {pct.ToString(pct < 1 ? "0.0" : "0", CultureInfo.InvariantCulture)}% {(t.Ratio < 1 ? "cheaper" : "more expensive")}.";
        }
    }

    /// <summary>The headline: verdicts, then cost.</summary>
    public string Headline => $"{VerdictLine} {CostLine}";

    /// <summary>How many metrics differ, of those not zero on both sides.</summary>
    public string DifferSummary => $"{Differing.Count} of {Metrics.Count} metrics differ (95% interval excludes 1, or only one side has them); {Metrics.Count - Differing.Count} unchanged; {Result.Metrics.Count - Metrics.Count} zero on both sides left out.";

    /// <summary>The seeds of the table of verdicts: every seed either side ran, in order.</summary>
    public IReadOnlyList<(ulong Seed, SeedResult? A, SeedResult? B)> PerSeed =>
        [.. Result.A.Select(s => s.Seed).Union(Result.B.Select(s => s.Seed)).Order()
            .Select(seed => (seed, Result.A.FirstOrDefault(s => s.Seed == seed), Result.B.FirstOrDefault(s => s.Seed == seed)))];

    /// <summary>The counterexample of <paramref name="side"/>'s seed <paramref name="seed"/>, or null.</summary>
    public CounterexampleLink? CounterexampleOf(string side, ulong seed) => Counterexamples.FirstOrDefault(c => c.Side == side && c.Seed == seed);

    /// <summary>Seeds x schedules, in words.</summary>
    public string Size => $"{Seeds} seeds x {Schedules} PCT schedules per side";

    /// <summary>A ratio for display (<c>-</c> when there is none).</summary>
    public static string Fmt(double v) => double.IsNaN(v) ? "-" : v.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>The 95% interval of <paramref name="m"/> for display: <c>0.62–0.64</c>, or <c>-</c> when A has none.</summary>
    public static string Interval(MetricComparison m) => double.IsNaN(m.Low) ? "-" : $"{Fmt(m.Low)}–{Fmt(m.High)}";

    /// <summary>A mean per run for display.</summary>
    public static string Mean(double v) => v.ToString("#,0.0", CultureInfo.InvariantCulture);
}
