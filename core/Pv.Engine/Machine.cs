// One simulated machine: memory, page tables, CPUs, RCU, the scheduler and the oracle, wired together.
// The machine is the hub the host services (what plugins see) forward to. It knows nothing of plugins:
// the arch and pv ops are attached by whoever composes the machine (Pv.Hosting), through interfaces.
// It is also the engine's public face: build one from MachineOptions, attach a backend, load a program
// (Programs.MachineProgram), run it under a schedule policy, and read its verdict (RunResult), metrics,
// simulated time, schedule and traces. Every mechanism behind that is internal to the engine.
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;
using Pv.Engine.Metrics;
using Pv.Engine.Mm;
using Pv.Engine.Rcu;
using Pv.Engine.Sched;
using Pv.Engine.Programs;

namespace Pv.Engine;

/// <summary>The result of running a machine under one schedule.</summary>
/// <param name="Outcome">How the run ended.</param>
/// <param name="Report">The violation report, if the oracle found one.</param>
/// <param name="Steps">Steps taken.</param>
/// <param name="Schedule">The entity ids picked, in order: replay it with <see cref="ReplayPolicy"/>.</param>
/// <param name="TraceHash">Hash of every step and traced event: equal for identical runs.</param>
/// <param name="Deadlock">For a deadlock, what each blocked thread waits for.</param>
public sealed record RunResult(RunOutcome Outcome, ViolationReport? Report, long Steps, IReadOnlyList<int> Schedule, ulong TraceHash, string? Deadlock);

/// <summary>A violation with what is needed to understand and replay it.</summary>
/// <param name="Violation">The broken invariant.</param>
/// <param name="Threads">The last steps of each thread, then of each interrupt context (irqN, rcu) that traced any, by name.</param>
/// <param name="Schedule">The schedule up to the violation (entity ids: what a replay follows).</param>
/// <param name="Entities">The name of each scheduled entity, by id: how the schedule reads to a person.</param>
public sealed record ViolationReport(Oracle.Violation Violation, IReadOnlyList<(string Thread, IReadOnlyList<TraceEntry> Steps)> Threads, IReadOnlyList<int> Schedule, IReadOnlyList<string> Entities)
{
    /// <summary>A multi-line, human-readable report: the violation, each thread's last events labelled, the schedule by name.</summary>
    public string Format()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(Violation.ToString());
        foreach (var (thread, steps) in Threads)
        {
            sb.AppendLine($"  {thread}:");
            foreach (var s in steps) sb.AppendLine($"    {s}");
        }
        sb.AppendLine($"  schedule: {NamedSchedule(Schedule, Entities)}");
        return sb.ToString();
    }

    /// <summary>
    /// <paramref name="schedule"/> by entity name, each run of steps by one entity written once with its length:
    /// <c>unmapper×6 walker×2 unmapper×7 walker</c>.
    /// </summary>
    public static string NamedSchedule(IReadOnlyList<int> schedule, IReadOnlyList<string> entities)
    {
        var runs = new List<string>();
        for (int i = 0; i < schedule.Count;)
        {
            int j = i;
            while (j < schedule.Count && schedule[j] == schedule[i]) j++;
            runs.Add(j - i == 1 ? entities[schedule[i]] : $"{entities[schedule[i]]}×{j - i}");
            i = j;
        }
        return string.Join(' ', runs);
    }
}

/// <summary>A simulated machine.</summary>
public sealed class Machine
{
    private readonly List<MmStruct?> _mms = [];
    private readonly List<SimThread> _threads = [];
    private readonly List<TraceRing> _traceRings = [];
    // Interrupt delivery and RCU's softirq run no thread but do kernel work (a flush in an IPI handler, a callback
    // freeing tables): their events go to a ring of their own per entity, indexed by entity id past the threads.
    private readonly List<TraceRing> _contextRings = [];
    private readonly List<string> _stepNotes = [];
    private bool _started;

    /// <summary>Builds a machine; <paramref name="options"/> are validated.</summary>
    public Machine(MachineOptions options)
    {
        options.Validate();
        Options = options;
        Metrics = new MachineMetrics();
        Memory = new PhysicalMemory(Metrics);
        PageTables = new PageTables(this, options.PagingLevels);
        Scheduler = new Scheduler();
        Cpus = new CpuSet(this, options);
        Oracle = new Oracle.Oracle(this);
        Boot();
    }

    /// <summary>
    /// Puts the machine back in the state the constructor leaves it in, for the next schedule of a search: no backend
    /// attached, no mm but init_mm, no thread, every CPU, TLB, counter and the clock as new. What costs the most to
    /// build again (the page-table arrays, the counter table, the scheduler's lists, the CPUs with their TLBs and walk
    /// caches, the oracle's records) is kept and cleared; everything
    /// else is made anew, so nothing of the last run can reach the next. A run on a reset machine is the run a new
    /// machine would make, bit for bit.
    /// </summary>
    public void Reset()
    {
        Metrics.Reset();
        Memory.Reset();
        PageTables.Reset();
        Scheduler.Reset();
        Cpus.Reset();
        Oracle.Reset();
        _mms.Clear();
        _threads.Clear();
        _stepNotes.Clear();
        LazyFree.Clear();
        PendingIpis = 0;
        _arch = null;
        _pvOps = null;
        _started = false;
        Boot();
    }

    /// <summary>The parts made anew for every run, and init_mm.</summary>
    private void Boot()
    {
        Cost = new CostClock(Options.Cost, Options.BackendCosts, Options.Cpus);
        Rcu = new RcuState(this);
        Ipi = new Host.IpiService(this);
        Hypervisor = new Host.HypervisorService(this);
        Firmware = new Host.FirmwareService(this);
        StealTime = new Host.StealTimeService(this);
        Waits = new Host.WaitsService(this);
        HostMappings = new Host.HostMappings(this);
        Devices = new Host.DeviceDmaPort(this);
        Notifiers = new Notifiers.NotifierRegistry(this);
        // init_mm: the kernel's own page tables (vmalloc, and what a CPU loads when it has no user mm).
        _mms.Add(new MmStruct(MmId.InitMm, Memory.Alloc(AllocSite.PageTable, FrameKind.PageTable)));
        PageTables.AddPgd(MmId.InitMm, InitMm.Pgd);
    }

    public MachineOptions Options { get; }
    public MachineMetrics Metrics { get; }
    internal CostClock Cost { get; private set; } = null!;
    internal PhysicalMemory Memory { get; }
    internal PageTables PageTables { get; }
    internal CpuSet Cpus { get; }
    internal RcuState Rcu { get; private set; } = null!;
    internal Oracle.Oracle Oracle { get; }
    internal Scheduler Scheduler { get; }
    internal Host.IpiService Ipi { get; private set; } = null!;
    internal Host.HypervisorService Hypervisor { get; private set; } = null!;
    internal Host.FirmwareService Firmware { get; private set; } = null!;
    internal Host.StealTimeService StealTime { get; private set; } = null!;
    internal Host.WaitsService Waits { get; private set; } = null!;
    internal Host.HostMappings HostMappings { get; private set; } = null!;
    internal Host.DeviceDmaPort Devices { get; private set; } = null!;
    internal Notifiers.NotifierRegistry Notifiers { get; private set; } = null!;

    /// <summary>The arch backend (flush entry points, gather knobs, hooks). Attached by whoever composes the machine.</summary>
    public IArchMmu Arch => _arch ?? throw new InvalidOperationException("no backend attached to this machine (AttachBackend)");

    /// <summary>The pv_mmu_ops table of the backend.</summary>
    public IPvMmuOps PvOps => _pvOps ?? throw new InvalidOperationException("no backend attached to this machine (AttachBackend)");

    /// <summary>Attach the backend the generic mm calls into. Done once, before the machine runs.</summary>
    public void AttachBackend(IArchMmu arch, IPvMmuOps pvOps)
    {
        if (_arch is not null) throw new InvalidOperationException("a backend is already attached");
        _arch = arch;
        _pvOps = pvOps;
    }

    private IArchMmu? _arch;

    /// <summary>A CPU backend is attached (a secondary-MMU-only backend attaches none).</summary>
    public bool HasCpuBackend => _arch is not null;
    private IPvMmuOps? _pvOps;

    /// <summary>Threads, in the order they were added.</summary>
    internal IReadOnlyList<SimThread> Threads => _threads;

    /// <summary>Simulated time charged so far, in nanoseconds, over every CPU.</summary>
    public long SimulatedNs => Cost.Total;

    /// <summary>The entity ids picked so far (after a run that threw, the schedule up to the failing step).</summary>
    public IReadOnlyList<int> Schedule => Scheduler.Schedule;

    /// <summary>
    /// Each thread's most recent steps (up to <see cref="MachineOptions.TraceDepth"/>), in the order threads were added,
    /// then those of each interrupt context (a CPU's IPI delivery <c>irqN</c>, RCU's softirq <c>rcu</c>) that traced any.
    /// </summary>
    public IReadOnlyList<(string Thread, IReadOnlyList<TraceEntry> Steps)> EntityTraces =>
    [
        .. _threads.Select(t => (t.Name, t.RecentSteps)),
        .. _started ? Scheduler.Entities.Skip(_threads.Count).Zip(_contextRings).Where(x => x.Second.Count > 0).Select(x => (x.First.Name, x.Second.Snapshot())) : [],
    ];

    /// <summary>
    /// After a run with <c>noteSteps</c>: for each step, what its entity was left doing, for a step that traced nothing
    /// (waiting for a lock or an acknowledgement, done, or neither: a lock taken or a scheduling point).
    /// </summary>
    public IReadOnlyList<string> StepNotes => _stepNotes;

    /// <summary>The name of the scheduled entity (thread, CPU interrupt, device) with id <paramref name="id"/>, as schedules record it.</summary>
    public string EntityName(int id) => Scheduler.Entities[id].Name;

    /// <summary>The names of the scheduled entities by id (threads, then each CPU's IPI delivery, then RCU's softirq), once the machine ran.</summary>
    public IReadOnlyList<string> EntityNames => [.. Scheduler.Entities.Select(e => e.Name)];

    /// <summary>
    /// What the machine holds now for <paramref name="address"/> in <paramref name="mm"/>, for a violation report: each CPU's
    /// TLB entry (or why it has none) and the PTE (or the level where the walk finds no table).
    /// </summary>
    public IReadOnlyList<(string Where, string What)> DescribeTranslation(MmId mm, ulong address)
    {
        var list = new List<(string, string)>();
        foreach (var cpu in Cpus.All)
            if (cpu.Tlb.TryLookup(mm.Value, address, out var hit))
                list.Add(($"{cpu} TLB", $"va {address:x} -> {hit.Pfn} gen {hit.Generation} {hit.Flags} ({hit.Level})"));
            else
                list.Add(($"{cpu} TLB", $"va {address:x}: no entry (loaded {cpu.LoadedMm}{(cpu.IsLazy ? ", lazy" : "")})"));
        if ((uint)mm.Value >= (uint)_mms.Count || _mms[mm.Value] is not { } space) return list;   // the mm is gone (exited)
        if (Zap.FindEntry(this, space, address, PageTableLevel.Pte, out var slot, out var level))
            list.Add(("PTE", $"va {address:x} in table {slot.Table} [{slot.Index}] ({level}): {PageTables.Read(slot)}"));
        else
            list.Add(("PTE", $"va {address:x}: no table at {level} (unmapped)"));
        return list;
    }

    /// <summary>IPIs queued on any CPU and not yet taken (lets the scheduler skip the interrupt entities when zero).</summary>
    internal int PendingIpis { get; set; }

    /// <summary>Pages MADV_FREE marked lazily freeable, for the reclaimer: (mm, address, page).</summary>
    internal List<(MmId Mm, ulong Address, Pfn Page)> LazyFree { get; } = [];

    /// <summary>The machine-wide step number.</summary>
    internal long Step => Scheduler.CurrentStep;

    /// <summary>The thread running the current step, or null in interrupt/softirq context.</summary>
    internal SimThread? CurrentThread => Scheduler.Current as SimThread;

    /// <summary>
    /// The CPU the current step runs on: the thread's CPU, the interrupted CPU, or CPU 0 for devices and
    /// softirqs (their kernel work runs there).
    /// </summary>
    internal SimCpu CurrentCpu => Scheduler.Current switch
    {
        SimThread { Cpu: { } c } => c,
        SimCpu.IrqEntity irq => irq.Cpu,
        _ => Cpus[0],
    };

    /// <summary>Who runs the current step, for reports.</summary>
    internal string CurrentAgent => Scheduler.Current?.Name ?? "setup";

    /// <summary>The mm with id <paramref name="id"/>.</summary>
    internal MmStruct Mm(MmId id) =>
        (uint)id.Value < (uint)_mms.Count && _mms[id.Value] is { } mm ? mm : throw new ArgumentException($"no such mm: {id}", nameof(id));

    /// <summary>init_mm.</summary>
    internal MmStruct InitMm => _mms[0]!;

    /// <summary>Create an mm with a fresh PGD.</summary>
    internal MmStruct CreateMm()
    {
        var pgd = Memory.Alloc(AllocSite.PageTable, FrameKind.PageTable);
        if (!pgd.IsValid) throw new ProgramException("out of memory allocating a PGD (fork or mm creation with fail-alloc page-table: the kernel's -ENOMEM path is not modelled)");
        var mm = new MmStruct(new MmId(_mms.Count), pgd);
        _mms.Add(mm);
        PageTables.AddPgd(mm.Id, pgd);
        return mm;
    }

    /// <summary>Add a thread. Threads are added before the first run; their ids follow the CPUs' interrupt entities.</summary>
    internal SimThread AddThread(string name, ThreadKind kind, int? cpu, MmStruct? mm)
    {
        if (_started) throw new InvalidOperationException("threads must be added before the machine runs");
        if (cpu is int c && (c < 0 || c >= Cpus.Count)) throw new ArgumentOutOfRangeException(nameof(cpu), cpu, $"CPU index must be 0..{Cpus.Count - 1}");
        // Thread i of every run on this machine records into the same ring, emptied (reports keep copies, not the ring).
        if (_threads.Count == _traceRings.Count) _traceRings.Add(new TraceRing(Options.TraceDepth));
        var trace = _traceRings[_threads.Count];
        trace.Clear();
        var t = new SimThread(_threads.Count, name, kind, cpu is int i ? Cpus[i] : null, mm, trace);
        _threads.Add(t);
        return t;
    }

    /// <summary>What the loaded program checks once every thread has finished (set by each load; null: nothing).</summary>
    internal Action? OnCompleted { get; set; }

    /// <summary>
    /// Run under <paramref name="policy"/> until done, a violation, a deadlock or the step limit. With
    /// <paramref name="noteSteps"/> (a replay that prints every step), what each step left its entity doing is noted in
    /// <see cref="StepNotes"/>; a search never asks, so its steps pay nothing for it.
    /// </summary>
    public RunResult Run(ISchedulePolicy policy, bool noteSteps = false)
    {
        Start();
        RunOutcome outcome;
        try
        {
            outcome = Scheduler.Run(policy, Options.MaxSteps, noteSteps ? NoteStep : null);
        }
        catch (Exception bug) when (bug is EngineBugException or (SystemException and not OutOfMemoryException))
        {
            // The engine's own code failed (plugin code is behind the host's boundary, which names its faults; a
            // refused operation of the scenario is a ProgramException): a bug in Pv, with the schedule that reaches it.
            throw new SimulationInternalError(bug, CurrentAgent, Scheduler.CurrentStep, Scheduler.Schedule.ToArray());
        }
        catch (ProgramException refused)
        {
            // The scenario's fault: say which of its lines and which thread.
            throw refused.Locate(CurrentThread?.Operation, CurrentAgent);
        }
        // Every thread finished: the program's final checks (the outcomes' final condition) may still find the run wrong.
        if (outcome == RunOutcome.Completed) OnCompleted?.Invoke();
        if (Oracle.Violation is not null) outcome = RunOutcome.Violation;
        ViolationReport? report = null;
        if (Oracle.Violation is { } v)
        {
            report = new ViolationReport(v, EntityTraces, Scheduler.Schedule.ToArray(), EntityNames);
        }
        string? deadlock = outcome == RunOutcome.Deadlock
            ? string.Join("; ", _threads.Where(t => !t.IsDone).Select(t => $"{t.Name} waits for {t.BlockedOn ?? "nothing runnable"}"))
            : null;
        return new RunResult(outcome, report, Scheduler.CurrentStep, Scheduler.Schedule.ToArray(), Scheduler.TraceHash, deadlock);
    }

    /// <summary>
    /// Record an event of the current step in its thread's (or interrupt context's) trace, and <paramref name="a"/> and
    /// <paramref name="b"/> in the run hash; <paramref name="c"/> is for readers of the trace only. Outside a step (setup)
    /// nothing is recorded but the hash.
    /// </summary>
    internal void Trace(TraceEvent what, ulong a, ulong b, ulong c = 0)
    {
        Scheduler.Mix(a);
        Scheduler.Mix(b);
        switch (Scheduler.Current)
        {
            case SimThread t:
                t.Trace.Add(new TraceEntry(Scheduler.CurrentStep, what, a, b, c));
                break;
            case { } context:
                _contextRings[context.Id - _threads.Count].Add(new TraceEntry(Scheduler.CurrentStep, what, a, b, c));
                break;
        }
    }

    /// <summary>What the step just run left its entity doing (<see cref="StepNotes"/>).</summary>
    private void NoteStep()
    {
        var entity = Scheduler.Entities[Scheduler.Schedule[^1]];
        _stepNotes.Add(entity switch
        {
            SimThread { BlockedOn: { } wait } => $"waits for {wait}",
            SimThread { IsDone: true } => "done: its last operation returned",
            SimThread => "no traced event: a lock taken or a scheduling point",
            _ => "no traced event",
        });
    }

    private void Start()
    {
        if (_started) throw new InvalidOperationException("a machine runs once; reset it (Reset) or build a new one for another schedule");
        _started = true;
        // Entity ids: threads first (in the order added), then each CPU's interrupt delivery, then RCU's softirq.
        foreach (var t in _threads) Scheduler.Add(t);
        int irqStart = Scheduler.Entities.Count;
        foreach (var cpu in Cpus.All)
        {
            cpu.Interrupts.Id = Scheduler.Entities.Count;
            Scheduler.Add(cpu.Interrupts);
        }
        Scheduler.SetSkippableRange(irqStart, Scheduler.Entities.Count, () => PendingIpis > 0);
        Rcu.Softirq.Id = Scheduler.Entities.Count;
        Scheduler.Add(Rcu.Softirq);
        // One ring per interrupt context, kept from run to run like the threads' and emptied for this one.
        int contexts = Scheduler.Entities.Count - _threads.Count;
        while (_contextRings.Count < contexts) _contextRings.Add(new TraceRing(Options.TraceDepth));
        foreach (var ring in _contextRings) ring.Clear();
    }
}
