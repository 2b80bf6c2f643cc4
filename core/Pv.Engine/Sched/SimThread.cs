// A simulated thread: a user thread on a CPU, a kernel thread, a device DMA engine, or a CPU's hardware
// speculative walker. It owns the queue of operations still to start, the stack of the running one (each
// Step.Call pushes a frame) and the waits it is blocked on. Running one step advances the innermost frame to
// its next yield. Queueing an operation is O(1), so `times N` costs N.
using Pv.Engine.Cpu;
using Pv.Engine.Mm;

namespace Pv.Engine.Sched;

/// <summary>What kind of agent a thread is.</summary>
public enum ThreadKind : byte
{
    /// <summary>A user thread: runs in an mm on its CPU, enters the kernel for operations.</summary>
    User,
    /// <summary>A kernel thread (holds the previous mm lazily on its CPU).</summary>
    Kernel,
    /// <summary>A device DMA engine translating through a secondary MMU.</summary>
    Device,
    /// <summary>A CPU's speculative hardware walker.</summary>
    Hardware,
    /// <summary>The hypervisor's scheduler: deschedules and resumes the guest's vCPUs (runs on no guest CPU).</summary>
    Host,
}

/// <summary>One schedulable thread.</summary>
internal sealed class SimThread : ISchedulable
{
    // Operations nest a few calls deep (munmap -> unmap_vmas -> zap -> free levels): room for them from the start.
    private readonly Stack<IEnumerator<Step>> _stack = new(8);
    private readonly Queue<IEnumerator<Step>> _queued = new();
    private readonly List<IWaitCondition> _waits = [];
    private readonly Queue<Action> _continuations = new();
    private readonly TraceRing _trace;

    internal SimThread(int id, string name, ThreadKind kind, SimCpu? cpu, MmStruct? mm, TraceRing trace)
    {
        Id = id;
        Name = name;
        Kind = kind;
        Cpu = cpu;
        Mm = mm;
        _trace = trace;
    }

    /// <summary>Scheduler id (stable: the order threads were added).</summary>
    public int Id { get; }

    /// <summary>Name from the scenario, for reports.</summary>
    public string Name { get; }

    /// <summary>The kind of agent.</summary>
    public ThreadKind Kind { get; }

    /// <summary>The CPU it runs on (null for a device).</summary>
    public SimCpu? Cpu { get; }

    /// <summary>The mm it belongs to (null for a kernel thread without one).</summary>
    public MmStruct? Mm { get; internal set; }

    /// <summary>Where the operation the thread is running was written (a ProgramException it throws is located there).</summary>
    public Programs.SourceSpan? Operation { get; internal set; }

    /// <summary>All operations finished.</summary>
    public bool IsDone => _stack.Count == 0 && _queued.Count == 0 && _continuations.Count == 0;

    /// <summary>This step is the first on its CPU since another thread ran there: the scheduler switched to it.</summary>
    public bool SwitchedIn { get; private set; }

    /// <summary>Steps taken so far.</summary>
    public long StepsTaken { get; private set; }

    /// <summary>The last steps, oldest first, for violation reports.</summary>
    public IReadOnlyList<TraceEntry> RecentSteps => _trace.Snapshot();

    internal TraceRing Trace => _trace;

    /// <summary>Queue an operation after those already queued.</summary>
    public void Enqueue(IEnumerable<Step> operation) => _queued.Enqueue(operation.GetEnumerator());

    /// <summary>Block this thread until <paramref name="condition"/> holds (used by host services during a step).</summary>
    public void AddWait(IWaitCondition condition) => _waits.Add(condition);

    /// <summary>Run <paramref name="continuation"/> as this thread's next step once its waits are over (IWaits.Then).</summary>
    public void AddContinuation(Action continuation) => _continuations.Enqueue(continuation);

    /// <inheritdoc/>
    public bool IsRunnable
    {
        get
        {
            if (IsDone) return false;
            // A vCPU the host descheduled runs nothing of the guest until it is resumed.
            if (Cpu is { VcpuPreempted: true }) return false;
            // Another thread of this CPU runs with interrupts off: nothing can switch to this one until it is done.
            if (Cpu?.IrqOffOwner is { } owner && owner != this) return false;
            for (int i = 0; i < _waits.Count; i++)
                if (!_waits[i].IsSatisfied) return false;
            return true;
        }
    }

    /// <summary>What the thread waits for, or null.</summary>
    public string? BlockedOn
    {
        get
        {
            foreach (var w in _waits)
                if (!w.IsSatisfied) return w.Describe();
            return null;
        }
    }

    /// <inheritdoc/>
    public void RunStep()
    {
        _waits.Clear();
        StepsTaken++;
        if (Cpu is { } cpu)
        {
            SwitchedIn = cpu.LastThread != this;
            cpu.LastThread = this;
        }
        if (_continuations.Count > 0)
        {
            _continuations.Dequeue()();
            return;
        }
        while (true)
        {
            if (_stack.Count == 0)
            {
                if (!_queued.TryDequeue(out var next)) return;
                _stack.Push(next);   // the next queued operation starts in this same step, as if it had been below
            }
            var top = _stack.Peek();
            if (!top.MoveNext())
            {
                _stack.Pop();
                top.Dispose();
                continue;
            }
            var s = top.Current;
            switch (s.Kind)
            {
                case StepKind.Yield:
                    return;
                case StepKind.Call:
                    _stack.Push((IEnumerator<Step>)s.Payload!);
                    continue;
                case StepKind.Wait:
                    var c = (IWaitCondition)s.Payload!;
                    if (c.IsSatisfied) continue;
                    _waits.Add(c);
                    return;
            }
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
