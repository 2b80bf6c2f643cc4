// `--scaling [--schedules N] [--scenario PATH] [--rounds R]`: how `pv explore --jobs J` scales with J. One search (by
// default Z1 fixed, scenarios/zoo/z1-gup-fast-vs-munmap-fixed.pvl; N schedules, default 100,000; the scenario's
// strategy, first seed 0) through the session `pv explore` runs, in this process: ExploreSession on a fresh results
// store, a RunWatch installed, a violation minimised and written as a counterexample. J = 1 .. ProcessorCount, each
// once on a tenth of the budget as a warm-up, then R rounds (default 5), each running J = 1, 2, ... in turn, so the
// machine's drifting noise (±10%) spreads over every J. Prints per J the median wall time and its range, schedules/s,
// speed-up over J = 1 and efficiency (speed-up / J). Every run must find the same result (verdict, schedules run,
// the store's rows, and on a violation the violating run's trace hash and the counterexample file): a mismatch is
// printed with every result and the exit code is 1. Measure is the routine the tests run (linked into Pv.Scenarios.Tests).
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
using Pv.Scenarios.Store;
using Pv.Testing;

namespace Pv.Benchmarks;

internal static class ExploreScaling
{
    /// <summary>What a search found: the same for every number of workers. Rows and counterexample file as SHA-256 prefixes.</summary>
    public sealed record Outcome(string Verdict, long Schedules, bool Exhausted, string Rows, ulong? TraceHash, string? Counterexample);

    /// <summary>One explore: its workers, its round, what it found and its wall time.</summary>
    public sealed record ExploreRun(int Jobs, int Round, Outcome Outcome, TimeSpan Wall);

    public static int Run(string[] args)
    {
        long schedules = 100_000;
        int rounds = 5;
        string scenario = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", "z1-gup-fast-vs-munmap-fixed.pvl");
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--schedules": schedules = long.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--scenario": scenario = Path.GetFullPath(args[i + 1]); break;
                default: Console.Error.WriteLine($"--scaling: unknown option {args[i]}; expected --schedules, --scenario or --rounds"); return 2;
            }
        }
        if (args.Length % 2 != 0 || schedules < 1 || rounds < 1)
        {
            Console.Error.WriteLine("--scaling: expected [--schedules N] [--scenario PATH] [--rounds R], N and R at least 1");
            return 2;
        }
        using var catalog = PluginCatalog.Load(Path.Combine(Fixtures.RepoRoot, "plugins.json"));
        var bound = BoundScenario.Load(scenario, catalog);
        int[] jobs = [.. Enumerable.Range(1, Environment.ProcessorCount)];
        var search = SearchOptions.For(bound.Scenario, schedules: schedules);
        Console.WriteLine($"{bound.Scenario.Name} on {bound.Backend.Name}: {search.Strategy}, {schedules:N0} schedules from seed {search.Seed}; " +
            $"jobs 1-{jobs.Length} ({Environment.ProcessorCount} cores), warm-up, then {rounds} round(s) alternating the jobs values");
        Measure(bound, catalog, Math.Max(SearchOptions.ChunkSize, schedules / 10), jobs, 1);
        var runs = Measure(bound, catalog, schedules, jobs, rounds,
            r => Console.WriteLine($"  round {r.Round}, jobs {r.Jobs}: {r.Wall.TotalSeconds:N2} s, {r.Outcome.Schedules / r.Wall.TotalSeconds:N0} schedules/s"));

        Console.WriteLine("| jobs | schedules | wall s (median) | wall s (range) | schedules/s | speed-up | efficiency |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
        double baseline = Median(runs.Where(r => r.Jobs == 1));
        foreach (int j in jobs)
        {
            var mine = runs.Where(r => r.Jobs == j).ToList();
            double wall = Median(mine), speedUp = baseline / wall;
            Console.WriteLine($"| {j} | {mine[0].Outcome.Schedules:N0} | {wall:N2} | {mine.Min(r => r.Wall.TotalSeconds):N2}–{mine.Max(r => r.Wall.TotalSeconds):N2} | " +
                $"{mine[0].Outcome.Schedules / wall:N0} | {speedUp:N2} | {speedUp / j:P0} |");
        }

        var first = runs[0].Outcome;
        if (runs.All(r => r.Outcome == first))
        {
            Console.WriteLine($"same result for every jobs value: {first}");
            return 0;
        }
        Console.Error.WriteLine("MISMATCH: the search found different results on different numbers of workers:");
        foreach (var r in runs) Console.Error.WriteLine($"  round {r.Round}, jobs {r.Jobs}: {r.Outcome}");
        return 1;
    }

    /// <summary>
    /// <paramref name="rounds"/> rounds of one explore of <paramref name="bound"/> (<paramref name="schedules"/> schedules) per
    /// value of <paramref name="jobs"/>, in that order within each round; <paramref name="finished"/> gets each run as it ends.
    /// </summary>
    public static IReadOnlyList<ExploreRun> Measure(BoundScenario bound, PluginCatalog catalog, long schedules, IReadOnlyList<int> jobs, int rounds, Action<ExploreRun>? finished = null)
    {
        var runs = new List<ExploreRun>();
        for (int round = 1; round <= rounds; round++)
            foreach (int j in jobs)
            {
                var (outcome, wall) = Explore(bound, catalog, schedules, j);
                runs.Add(new ExploreRun(j, round, outcome, wall));
                finished?.Invoke(runs[^1]);
            }
        return runs;
    }

    /// <summary>One `pv explore --jobs <paramref name="jobs"/>` of <paramref name="bound"/> on a results store of its own, deleted after.</summary>
    private static (Outcome, TimeSpan) Explore(BoundScenario bound, PluginCatalog catalog, long schedules, int jobs)
    {
        string folder = Path.Combine(Path.GetTempPath(), "pv-scaling", Guid.NewGuid().ToString("N"));
        try
        {
            using var store = ResultsStore.Open(Path.Combine(folder, ResultsStore.DefaultFile));
            var session = new ExploreSession(bound, SearchOptions.For(bound.Scenario, schedules: schedules), catalog, store, resume: false, jobs);
            string cx = Path.Combine(folder, session.DefaultCounterexampleFile);
            using var installed = new RunWatch().Install();
            var clock = Stopwatch.StartNew();
            var r = session.Run(cx);
            var wall = clock.Elapsed;
            string rows = string.Join(' ', store.Done(session.Key, bound.Backend.Name).Values.OrderBy(row => row.Seed)
                .Select(row => $"{row.Seed}:{row.Schedules}:{row.Verdict.ToText()}"));
            return (new Outcome(r.Verdict.ToText(), r.Search.SchedulesRun, r.Search.Exhausted, Digest(rows), r.Found?.Found.TraceHash,
                r.CounterexampleFile is { } file ? Digest(File.ReadAllText(file)) : null), wall);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string Digest(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    private static double Median(IEnumerable<ExploreRun> runs)
    {
        var walls = runs.Select(r => r.Wall.TotalSeconds).Order().ToList();
        return walls.Count % 2 == 1 ? walls[walls.Count / 2] : (walls[walls.Count / 2 - 1] + walls[walls.Count / 2]) / 2;
    }
}
