// Schedule policies: sequential, seeded random, PCT, and replay of a recorded schedule. All randomness
// comes from SplitMix64 seeded by the user, never from System.Random, so a seed means the same run on every
// .NET version. (Bounded exhaustive search drives PrefixPolicy from the Explorer.)
namespace Pv.Engine.Sched;

/// <summary>SplitMix64: small, fast, and fixed forever.</summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n).</summary>
    public int NextInt(int n) => (int)(Next() % (ulong)n);
}

/// <summary>Keeps running the entity that ran last while it can; otherwise the lowest id.</summary>
public sealed class SequentialPolicy : ISchedulePolicy
{
    private int _last = -1;

    /// <inheritdoc/>
    public int Choose(ReadOnlySpan<ISchedulable> runnable, long step)
    {
        for (int i = 0; i < runnable.Length; i++)
            if (runnable[i].Id == _last) return i;
        _last = runnable[0].Id;
        return 0;
    }
}

/// <summary>Uniformly random among the runnable entities, from a seed.</summary>
public sealed class RandomPolicy(ulong seed) : ISchedulePolicy
{
    private SplitMix64 _rng = new(seed);

    /// <inheritdoc/>
    public int Choose(ReadOnlySpan<ISchedulable> runnable, long step) => _rng.NextInt(runnable.Length);
}

/// <summary>
/// Probabilistic Concurrency Testing (Burckhardt et al. 2010): random distinct priorities per entity and
/// <c>depth - 1</c> priority change points spread over the expected run length; always run the highest-priority
/// runnable entity. Finds a bug of depth d with probability at least 1/(n k^(d-1)).
/// </summary>
public sealed class PctPolicy : ISchedulePolicy
{
    // Priorities by entity id (ids are small and dense); Unset until the entity is first runnable, so the random
    // draws happen in the same order as ever.
    private const long Unset = long.MinValue;
    private long[] _priority = [];
    private readonly long[] _changePoints;
    private SplitMix64 _rng;
    private long _nextLow;

    /// <summary>A PCT policy for bug depth <paramref name="depth"/> over about <paramref name="expectedSteps"/> steps.</summary>
    public PctPolicy(ulong seed, int depth, long expectedSteps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        _rng = new SplitMix64(seed);
        _changePoints = new long[depth - 1];
        for (int i = 0; i < _changePoints.Length; i++) _changePoints[i] = 1 + (long)(_rng.Next() % (ulong)Math.Max(expectedSteps, 1));
        _nextLow = depth - 1;
    }

    /// <inheritdoc/>
    public int Choose(ReadOnlySpan<ISchedulable> runnable, long step)
    {
        int best = 0;
        long bestPri = long.MinValue;
        for (int i = 0; i < runnable.Length; i++)
        {
            long p = PriorityOf(runnable[i].Id);
            if (p > bestPri) { bestPri = p; best = i; }
        }
        foreach (long cp in _changePoints)
        {
            if (cp != step) continue;
            // Demote the entity that would run now below every initial priority, then pick again.
            _priority[runnable[best].Id] = _nextLow--;   // PriorityOf gave it a slot already
            return Choose(runnable, -1);
        }
        return best;
    }

    private long PriorityOf(int id)
    {
        if (id >= _priority.Length)
        {
            int old = _priority.Length;
            Array.Resize(ref _priority, Math.Max(id + 1, 2 * old));
            Array.Fill(_priority, Unset, old, _priority.Length - old);
        }
        long p = _priority[id];
        if (p == Unset) _priority[id] = p = _changePoints.Length + 1 + (long)(_rng.Next() >> 2);
        return p;
    }
}

/// <summary>Replays a recorded schedule of entity ids; fails loudly if the run diverges.</summary>
public sealed class ReplayPolicy(IReadOnlyList<int> schedule) : ISchedulePolicy
{
    private int _at;

    /// <inheritdoc/>
    public int Choose(ReadOnlySpan<ISchedulable> runnable, long step)
    {
        if (_at >= schedule.Count) return 0;
        int want = schedule[_at++];
        for (int i = 0; i < runnable.Length; i++)
            if (runnable[i].Id == want) return i;
        throw new ReplayDivergedException(_at - 1, $"replay diverged at step {step}: entity {want} is not runnable");
    }
}

/// <summary>A replayed schedule does not fit the run (the scenario or backend changed, or the schedule was edited).</summary>
/// <param name="index">The schedule entry that names an entity that cannot run (from 0).</param>
/// <param name="message">What diverged.</param>
public sealed class ReplayDivergedException(int index, string message) : Exception(message)
{
    /// <summary>The schedule entry that names an entity that cannot run (from 0), so the error can point at it.</summary>
    public int Index { get; } = index;
}

/// <summary>
/// The building block of bounded exhaustive DFS. Choices are recorded as ranks: rank 0 is the entity that ran
/// the previous step if it can go on (no preemption), else the lowest id; rank r &gt; 0 is the r-th other
/// runnable entity in id order. The policy follows a prefix of ranks, then always takes rank 0, and records at
/// every choice point its rank, the number of options and whether a rank other than 0 preempts.
/// </summary>
internal sealed class PrefixPolicy(IReadOnlyList<int> prefix) : ISchedulePolicy
{
    private int _lastId = -1;

    /// <summary>Each choice point: the rank taken, how many options there were, and whether rank 0 continued the previous entity.</summary>
    public List<(int Rank, int Options, bool Continues)> Points { get; } = [];

    /// <inheritdoc/>
    public int Choose(ReadOnlySpan<ISchedulable> runnable, long step)
    {
        int dflt = -1;
        for (int i = 0; i < runnable.Length; i++)
            if (runnable[i].Id == _lastId) { dflt = i; break; }
        bool continues = dflt >= 0;
        if (dflt < 0) dflt = 0;
        int k = Points.Count;
        int rank = k < prefix.Count ? Math.Min(prefix[k], runnable.Length - 1) : 0;
        int pick = rank == 0 ? dflt : (rank <= dflt ? rank - 1 : rank);
        Points.Add((rank, runnable.Length, continues));
        _lastId = runnable[pick].Id;
        return pick;
    }
}
