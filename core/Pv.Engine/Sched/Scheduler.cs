// The deterministic scheduler. At every step it lists the runnable entities (threads, and CPUs with an
// IPI they can take) in id order, asks the policy to pick one, and runs one step of it. The sequence of
// picked ids is the schedule: replaying it reproduces the run bit for bit. Nothing here depends on wall
// time, hashing of objects, or iteration order of unordered collections.
namespace Pv.Engine.Sched;

/// <summary>Something the scheduler can run one step of.</summary>
public interface ISchedulable
{
    /// <summary>Stable id; schedules are recorded as these ids.</summary>
    int Id { get; }

    /// <summary>Name for reports.</summary>
    string Name { get; }

    /// <summary>May run a step now.</summary>
    bool IsRunnable { get; }

    /// <summary>Run one atomic step.</summary>
    void RunStep();
}

/// <summary>Picks which runnable entity steps next.</summary>
public interface ISchedulePolicy
{
    /// <summary>Index into <paramref name="runnable"/> (ordered by id) of the entity to step.</summary>
    int Choose(ReadOnlySpan<ISchedulable> runnable, long step);
}

/// <summary>How a run ended.</summary>
public enum RunOutcome : byte
{
    /// <summary>Every thread finished.</summary>
    Completed,
    /// <summary>The oracle found a violation.</summary>
    Violation,
    /// <summary>No entity could run while some threads were not done.</summary>
    Deadlock,
    /// <summary>The step limit was reached.</summary>
    StepLimit,
}

/// <summary>Runs entities step by step under a policy.</summary>
internal sealed class Scheduler
{
    private readonly List<ISchedulable> _entities = [];
    private ISchedulable[] _runnable = new ISchedulable[8];
    private readonly List<int> _schedule = [];
    private TraceHash _hash;

    /// <summary>The machine-wide step number of the step being run.</summary>
    public long CurrentStep { get; private set; }

    /// <summary>The entity running the current step.</summary>
    public ISchedulable? Current { get; private set; }

    /// <summary>The ids picked so far, in order.</summary>
    public IReadOnlyList<int> Schedule => _schedule;

    /// <summary>A hash of the run so far (each step's entity and everything mixed in with <see cref="Mix"/>).</summary>
    public ulong TraceHash => _hash.Value;

    /// <summary>Entities, by id.</summary>
    public IReadOnlyList<ISchedulable> Entities => _entities;

    /// <summary>Set when a step should end the run (a violation).</summary>
    internal bool StopRequested { get; set; }

    /// <summary>Back to a new scheduler: no entity, no step, an empty schedule and hash (the lists keep their capacity).</summary>
    public void Reset()
    {
        _entities.Clear();
        Array.Clear(_runnable);
        _schedule.Clear();
        _hash = default;
        CurrentStep = 0;
        Current = null;
        StopRequested = false;
        (_skipStart, _skipEnd, _skipActive) = (0, 0, null);
    }

    /// <summary>Add an entity; ids must be dense and in order.</summary>
    public void Add(ISchedulable entity)
    {
        if (entity.Id != _entities.Count) throw new InvalidOperationException($"entity id {entity.Id} out of order (expected {_entities.Count})");
        _entities.Add(entity);
    }

    /// <summary>Mix a value into the run's hash (the engine does so for every traced event).</summary>
    public void Mix(ulong value) => _hash.Add(value);

    /// <summary>Run until done, a violation, a deadlock or <paramref name="maxSteps"/>.</summary>
    public RunOutcome Run(ISchedulePolicy policy, long maxSteps, Action? afterStep = null)
    {
        while (true)
        {
            if (StopRequested) return RunOutcome.Violation;
            int n = CollectRunnable();
            if (n == 0) return AllDone() ? RunOutcome.Completed : RunOutcome.Deadlock;
            if (CurrentStep >= maxSteps) return RunOutcome.StepLimit;
            // The policy sees every step, forced ones included, so a recorded schedule lines up with replay.
            int pick = policy.Choose(new ReadOnlySpan<ISchedulable>(_runnable, 0, n), CurrentStep);
            if ((uint)pick >= (uint)n) throw new InvalidOperationException($"policy chose {pick} of {n}");
            var e = _runnable[pick];
            _schedule.Add(e.Id);
            _hash.Add((ulong)e.Id);
            Current = e;
            e.RunStep();
            Current = null;
            CurrentStep++;
            afterStep?.Invoke();
        }
    }

    /// <summary>
    /// Entities [start, end) can only be runnable while <paramref name="active"/> holds (the CPUs' interrupt entities
    /// while some IPI is pending), so a large machine does not ask each of them every step. Order is unchanged.
    /// </summary>
    public void SetSkippableRange(int start, int end, Func<bool> active) => (_skipStart, _skipEnd, _skipActive) = (start, end, active);

    private int _skipStart, _skipEnd;
    private Func<bool>? _skipActive;

    private int CollectRunnable()
    {
        int n = 0;
        var list = _entities;
        bool skip = _skipActive is not null && !_skipActive();
        for (int i = 0; i < list.Count; i++)
        {
            if (skip && i == _skipStart)
            {
                i = _skipEnd - 1;
                continue;
            }
            var e = list[i];
            if (!e.IsRunnable) continue;
            if (n == _runnable.Length) Array.Resize(ref _runnable, n * 2);
            _runnable[n++] = e;
        }
        return n;
    }

    private bool AllDone()
    {
        foreach (var e in _entities)
            if (e is SimThread t && !t.IsDone) return false;
        return true;
    }
}
