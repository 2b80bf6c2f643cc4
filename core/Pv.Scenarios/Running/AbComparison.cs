// A/B: the same scenario (or workload) and the same seeds on two backends. For each seed and side, a batch of
// PCT schedules (schedule seeds seed·K .. seed·K+K-1, the workload generated from the seed): the verdict is
// the first violation in the batch, the metrics are the mean over the batch's completed runs. Verdicts come
// first; then every metric side by side with the ratio of means B/A and a 95% percentile bootstrap interval
// over seeds (seeds resampled with replacement, 2,000 resamples, SplitMix64-seeded: deterministic). A side
// stopped by a plugin fault keeps the seeds it finished and the fault; only seeds both sides finished are compared.
// A violating seed's first violation can be found again (FirstViolation: the batch is deterministic) and written as a
// counterexample, for the report to link.
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Hosting.Composition;
using Pv.Scenarios.Litmus;

namespace Pv.Scenarios.Running;

/// <summary>One side's result for one seed.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="Verdict">Clean or the first invariant that broke in the batch.</param>
/// <param name="Metrics">Mean of each metric over the batch's completed runs (all runs if none completed).</param>
/// <param name="Schedules">Schedules run.</param>
public sealed record SeedResult(ulong Seed, Verdict Verdict, IReadOnlyDictionary<string, double> Metrics, int Schedules);

/// <summary>One metric compared.</summary>
/// <param name="Name">Metric name.</param>
/// <param name="MeanA">Mean over seeds on A.</param>
/// <param name="MeanB">Mean over seeds on B.</param>
/// <param name="Ratio">MeanB / MeanA (NaN when A is 0).</param>
/// <param name="Low">2.5th percentile of the bootstrap ratio.</param>
/// <param name="High">97.5th percentile.</param>
public sealed record MetricComparison(string Name, double MeanA, double MeanB, double Ratio, double Low, double High);

/// <summary>The comparison of two backends.</summary>
/// <param name="A">Seeds on A.</param>
/// <param name="B">Seeds on B.</param>
/// <param name="Metrics">Every metric either side has, by name.</param>
public sealed record AbResult(IReadOnlyList<SeedResult> A, IReadOnlyList<SeedResult> B, IReadOnlyList<MetricComparison> Metrics)
{
    /// <summary>The plugin fault that stopped side A (its seeds before it are in <see cref="A"/>), or null.</summary>
    public PluginFaultException? FaultA { get; init; }

    /// <summary>The plugin fault that stopped side B (its seeds before it are in <see cref="B"/>), or null.</summary>
    public PluginFaultException? FaultB { get; init; }

    /// <summary>One side's verdicts: "clean in 20/20 seeds", or each verdict found, "O2 in 7/20 seeds, O3 in 1/20 seeds".</summary>
    public static string Summary(IReadOnlyList<SeedResult> side)
    {
        var bad = side.Where(s => s.Verdict != Verdict.Clean).ToList();
        return bad.Count == 0 ? $"{Verdict.Clean.ToText()} in {side.Count}/{side.Count} seeds"
            : string.Join(", ", bad.GroupBy(s => s.Verdict).Select(g => $"{g.Key.ToText()} in {g.Count()}/{side.Count} seeds"));
    }

    /// <summary>Either side found a violation in some seed.</summary>
    public bool FoundViolation => A.Concat(B).Any(r => r.Verdict != Verdict.Clean);
}

/// <summary>Runs and compares.</summary>
public static class AbComparison
{
    /// <summary>Resamples of the bootstrap.</summary>
    public const int Resamples = 2000;

    /// <summary>
    /// Runs seed <paramref name="seed"/> of <paramref name="bound"/>: <paramref name="schedules"/> PCT schedules.
    /// </summary>
    public static SeedResult RunSeed(BoundScenario bound, ulong seed, int schedules)
    {
        using var compiled = bound.Compile(seed);
        var verdict = Verdict.Clean;
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        var all = new Dictionary<string, double>(StringComparer.Ordinal);
        int completed = 0;
        foreach (var (_, r, run) in Batch(bound, compiled, seed, schedules))
        {
            if (r.Outcome == RunOutcome.Violation && verdict == Verdict.Clean) verdict = run.Verdict;
            foreach (var (k, v) in run.Metrics) all[k] = all.GetValueOrDefault(k) + v;
            if (r.Outcome != RunOutcome.Completed) continue;
            completed++;
            foreach (var (k, v) in run.Metrics) sums[k] = sums.GetValueOrDefault(k) + v;
        }
        var mean = completed > 0 ? sums.ToDictionary(kv => kv.Key, kv => kv.Value / completed) : all.ToDictionary(kv => kv.Key, kv => kv.Value / schedules);
        return new SeedResult(seed, verdict, mean, schedules);
    }

    /// <summary>
    /// The counterexample of the first violation in seed <paramref name="seed"/>'s batch (the run that decided its verdict:
    /// the batch is deterministic, so it is found again), not minimised; null when the batch is clean.
    /// </summary>
    public static Counterexample? FirstViolation(BoundScenario bound, ulong seed, int schedules)
    {
        using var compiled = bound.Compile(seed);
        foreach (var (schedule, r, run) in Batch(bound, compiled, seed, schedules))
            if (r.Outcome == RunOutcome.Violation)
                return Counterexample.Of(bound, seed, $"pct schedule seed {schedule} (A/B seed {seed}, schedule {schedule - seed * (ulong)schedules} of {schedules})",
                    run.Verdict, r.Report!.Violation.ToString(), r.Schedule, null);
        return null;
    }

    /// <summary>The PCT runs of one seed's batch, in order, with each run's schedule seed.</summary>
    private static IEnumerable<(ulong Schedule, RunResult Result, RunSummary Run)> Batch(BoundScenario bound, CompiledScenario compiled, ulong seed, int schedules)
    {
        long expected = 16;
        for (int i = 0; i < schedules; i++)
        {
            var m = compiled.Build();
            ulong scheduleSeed = seed * (ulong)schedules + (ulong)i;
            var r = m.Run(new PctPolicy(scheduleSeed, bound.Scenario.Search.PctDepth, expected));
            expected = Math.Max(expected, r.Steps);
            yield return (scheduleSeed, r, RunSummary.Of(m, r));
        }
    }

    /// <summary>Compares the seeds of A and B (paired by position; none when either side has none).</summary>
    public static AbResult Compare(IReadOnlyList<SeedResult> a, IReadOnlyList<SeedResult> b)
    {
        if (a.Count == 0 || b.Count == 0) return new AbResult(a, b, []);
        var names = a.Concat(b).SelectMany(s => s.Metrics.Keys).Distinct().Order(StringComparer.Ordinal);
        var rng = new SplitMix64(0xAB);
        var samples = new int[Resamples][];
        for (int r = 0; r < Resamples; r++)
        {
            samples[r] = new int[a.Count];
            for (int i = 0; i < a.Count; i++) samples[r][i] = rng.NextInt(a.Count);
        }
        var metrics = new List<MetricComparison>();
        foreach (var name in names)
        {
            double[] va = a.Select(s => s.Metrics.GetValueOrDefault(name)).ToArray();
            double[] vb = b.Select(s => s.Metrics.GetValueOrDefault(name)).ToArray();
            double ma = va.Average(), mb = vb.Average();
            var ratios = new List<double>(Resamples);
            foreach (var idx in samples)
            {
                double sa = 0, sb = 0;
                foreach (int i in idx) { sa += va[i]; sb += vb[i]; }
                if (sa != 0) ratios.Add(sb / sa);
            }
            ratios.Sort();
            double low = ratios.Count == 0 ? double.NaN : ratios[(int)(0.025 * (ratios.Count - 1))];
            double high = ratios.Count == 0 ? double.NaN : ratios[(int)Math.Ceiling(0.975 * (ratios.Count - 1))];
            metrics.Add(new MetricComparison(name, ma, mb, ma == 0 ? double.NaN : mb / ma, low, high));
        }
        return new AbResult(a, b, metrics);
    }
}
