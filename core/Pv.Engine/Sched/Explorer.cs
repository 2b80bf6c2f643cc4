// Searching interleavings: run a freshly built machine once per schedule under a strategy until the oracle
// finds a violation or the budget runs out. Random and PCT draw schedule i from seed + i; bounded
// exhaustive DFS enumerates choice sequences depth-first, pruning those with more preemptions (switching
// away from a thread that could have gone on) than the bound. Every result carries what replays it.
namespace Pv.Engine.Sched;

/// <summary>How schedules are chosen.</summary>
public enum ExploreStrategy : byte
{
    /// <summary>One schedule: each thread runs as long as it can, lowest id first.</summary>
    Sequential,
    /// <summary>Uniformly random choices, schedule i from seed + i.</summary>
    Random,
    /// <summary>PCT with the given bug depth, schedule i from seed + i.</summary>
    Pct,
    /// <summary>Depth-first over every choice sequence within the preemption bound.</summary>
    Dfs,
}

/// <summary>Settings of one exploration.</summary>
/// <param name="Strategy">The strategy.</param>
/// <param name="Schedules">At most this many schedules.</param>
/// <param name="Seed">Base seed (Random, PCT).</param>
/// <param name="PctDepth">PCT's bug depth d.</param>
/// <param name="PreemptionBound">DFS: at most this many preemptions per schedule.</param>
public sealed record ExploreOptions(ExploreStrategy Strategy, int Schedules, ulong Seed = 0, int PctDepth = 3, int PreemptionBound = 2);

/// <summary>What an exploration found.</summary>
/// <param name="SchedulesRun">Schedules run (up to and including the one that found a violation).</param>
/// <param name="FirstViolation">The first violating run, or null.</param>
/// <param name="Exhausted">DFS ran out of schedules within the bound before the budget.</param>
public sealed record ExploreResult(int SchedulesRun, RunResult? FirstViolation, bool Exhausted);

/// <summary>Runs many schedules of one scenario.</summary>
public static class Explorer
{
    /// <summary>
    /// Explore schedules of the machine <paramref name="build"/> makes (a new machine, threads added, per schedule).
    /// </summary>
    public static ExploreResult Explore(Func<Machine> build, ExploreOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Schedules, 1);
        return options.Strategy == ExploreStrategy.Dfs ? Dfs(build, options) : Sample(build, options);
    }

    private static ExploreResult Sample(Func<Machine> build, ExploreOptions o)
    {
        int runs = o.Strategy == ExploreStrategy.Sequential ? 1 : o.Schedules;
        long expected = 0;
        for (int i = 0; i < runs; i++)
        {
            var m = build();
            ulong seed = o.Seed + (ulong)i;
            ISchedulePolicy policy = o.Strategy switch
            {
                ExploreStrategy.Sequential => new SequentialPolicy(),
                ExploreStrategy.Random => new RandomPolicy(seed),
                _ => new PctPolicy(seed, o.PctDepth, Math.Max(expected, 16)),
            };
            var r = m.Run(policy);
            expected = Math.Max(expected, r.Steps);
            if (r.Outcome == RunOutcome.Violation) return new ExploreResult(i + 1, r, false);
        }
        return new ExploreResult(runs, null, o.Strategy == ExploreStrategy.Sequential);
    }

    private static ExploreResult Dfs(Func<Machine> build, ExploreOptions o)
    {
        var prefix = new List<int>();
        for (int run = 1; run <= o.Schedules; run++)
        {
            var policy = new PrefixPolicy(prefix);
            var r = build().Run(policy);
            if (r.Outcome == RunOutcome.Violation) return new ExploreResult(run, r, false);
            var next = NextPrefix(policy.Points, o.PreemptionBound);
            if (next is null) return new ExploreResult(run, null, true);
            prefix = next;
        }
        return new ExploreResult(o.Schedules, null, false);
    }

    /// <summary>
    /// The next rank sequence in depth-first order: bump the deepest choice point that has an untried rank, if the
    /// preemptions up to and including it stay within <paramref name="bound"/>. A rank above 0 at a point where
    /// rank 0 continues the previous entity is a preemption.
    /// </summary>
    private static List<int>? NextPrefix(List<(int Rank, int Options, bool Continues)> points, int bound)
    {
        var before = new int[points.Count + 1];
        for (int i = 0; i < points.Count; i++)
            before[i + 1] = before[i] + (points[i].Rank > 0 && points[i].Continues ? 1 : 0);
        for (int k = points.Count - 1; k >= 0; k--)
        {
            var (rank, options, continues) = points[k];
            if (rank + 1 >= options) continue;
            if (before[k] + (continues ? 1 : 0) > bound) continue;
            var next = new List<int>(k + 1);
            for (int i = 0; i < k; i++) next.Add(points[i].Rank);
            next.Add(rank + 1);
            return next;
        }
        return null;
    }
}
