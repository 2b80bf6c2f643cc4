// One simulated machine: memory, page tables, CPUs, RCU, the scheduler and the oracle, wired together.
// The machine is the hub the host services (what plugins see) forward to. It knows nothing of plugins:
// the arch and pv ops are attached by whoever composes the machine (Pv.Hosting), through interfaces.
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;
using Pv.Engine.Metrics;
using Pv.Engine.Mm;
using Pv.Engine.Rcu;
using Pv.Engine.Sched;

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
/// <param name="Threads">Each thread's name and its last steps.</param>
/// <param name="Schedule">The schedule up to the violation.</param>
public sealed record ViolationReport(Oracle.Violation Violation, IReadOnlyList<(string Thread, IReadOnlyList<TraceEntry> Steps)> Threads, IReadOnlyList<int> Schedule)
{
    /// <summary>A multi-line, human-readable report.</summary>
    public string Format()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(Violation.ToString());
        foreach (var (thread, steps) in Threads)
        {
            sb.AppendLine($"  {thread}:");
            foreach (var s in steps) sb.AppendLine($"    {s}");
        }
        sb.AppendLine($"  schedule: {string.Join(' ', Schedule)}");
        return sb.ToString();
    }
}

/// <summary>A simulated machine.</summary>
public sealed class Machine
{
    private readonly List<MmStruct?> _mms = [];
    private readonly List<SimThread> _threads = [];
    private bool _started;

    /// <summary>Builds a machine; <paramref name="options"/> are validated.</summary>
    public Machine(MachineOptions options)
    {
        options.Validate();
        Options = options;
        Metrics = new MachineMetrics();
        Cost = new CostClock(options.Cost, options.BackendCosts, options.Cpus);
        Memory = new PhysicalMemory(Metrics);
        PageTables = new PageTables(this, options.PagingLevels);
        Cpus = new CpuSet(this, options);
        Rcu = new RcuState(this);
        Oracle = new Oracle.Oracle(this);
        Scheduler = new Scheduler();
        Ipi = new Host.IpiService(this);
        Hypervisor = new Host.HypervisorService(this);
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
    public CostClock Cost { get; }
    public PhysicalMemory Memory { get; }
    public PageTables PageTables { get; }
    public CpuSet Cpus { get; }
    public RcuState Rcu { get; }
    public Oracle.Oracle Oracle { get; }
    public Scheduler Scheduler { get; }
    public Host.IpiService Ipi { get; }
    public Host.HypervisorService Hypervisor { get; }
    public Host.WaitsService Waits { get; }
    public Host.HostMappings HostMappings { get; }
    public Host.DeviceDmaPort Devices { get; }
    public Notifiers.NotifierRegistry Notifiers { get; }

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
    public IReadOnlyList<SimThread> Threads => _threads;

    /// <summary>IPIs queued on any CPU and not yet taken (lets the scheduler skip the interrupt entities when zero).</summary>
    internal int PendingIpis { get; set; }

    /// <summary>Pages MADV_FREE marked lazily freeable, for the reclaimer: (mm, address, page).</summary>
    public List<(MmId Mm, ulong Address, Pfn Page)> LazyFree { get; } = [];

    /// <summary>The machine-wide step number.</summary>
    public long Step => Scheduler.CurrentStep;

    /// <summary>The thread running the current step, or null in interrupt/softirq context.</summary>
    public SimThread? CurrentThread => Scheduler.Current as SimThread;

    /// <summary>
    /// The CPU the current step runs on: the thread's CPU, the interrupted CPU, or CPU 0 for devices and
    /// softirqs (their kernel work runs there).
    /// </summary>
    public SimCpu CurrentCpu => Scheduler.Current switch
    {
        SimThread { Cpu: { } c } => c,
        SimCpu.IrqEntity irq => irq.Cpu,
        _ => Cpus[0],
    };

    /// <summary>Who runs the current step, for reports.</summary>
    public string CurrentAgent => Scheduler.Current?.Name ?? "setup";

    /// <summary>The mm with id <paramref name="id"/>.</summary>
    public MmStruct Mm(MmId id) =>
        (uint)id.Value < (uint)_mms.Count && _mms[id.Value] is { } mm ? mm : throw new ArgumentException($"no such mm: {id}", nameof(id));

    /// <summary>init_mm.</summary>
    public MmStruct InitMm => _mms[0]!;

    /// <summary>Create an mm with a fresh PGD.</summary>
    public MmStruct CreateMm()
    {
        var pgd = Memory.Alloc(AllocSite.PageTable, FrameKind.PageTable);
        if (!pgd.IsValid) throw new InvalidOperationException("out of memory allocating a PGD");
        var mm = new MmStruct(new MmId(_mms.Count), pgd);
        _mms.Add(mm);
        PageTables.AddPgd(mm.Id, pgd);
        return mm;
    }

    /// <summary>Add a thread. Threads are added before the first run; their ids follow the CPUs' interrupt entities.</summary>
    public SimThread AddThread(string name, ThreadKind kind, int? cpu, MmStruct? mm)
    {
        if (_started) throw new InvalidOperationException("threads must be added before the machine runs");
        if (cpu is int c && (c < 0 || c >= Cpus.Count)) throw new ArgumentOutOfRangeException(nameof(cpu), cpu, $"CPU index must be 0..{Cpus.Count - 1}");
        var t = new SimThread(_threads.Count, name, kind, cpu is int i ? Cpus[i] : null, mm, Options.TraceDepth);
        _threads.Add(t);
        return t;
    }

    /// <summary>Run under <paramref name="policy"/> until done, a violation, a deadlock or the step limit.</summary>
    public RunResult Run(ISchedulePolicy policy)
    {
        Start();
        RunOutcome outcome;
        try
        {
            outcome = Scheduler.Run(policy, Options.MaxSteps);
        }
        catch (EngineBugException bug)
        {
            throw new SimulationInternalError(bug, CurrentAgent, Scheduler.CurrentStep, Scheduler.Schedule.ToArray());
        }
        if (Oracle.Violation is not null) outcome = RunOutcome.Violation;
        ViolationReport? report = null;
        if (Oracle.Violation is { } v)
        {
            var threads = _threads.Select(t => (t.Name, t.RecentSteps)).ToList();
            report = new ViolationReport(v, threads, Scheduler.Schedule.ToArray());
        }
        string? deadlock = outcome == RunOutcome.Deadlock
            ? string.Join("; ", _threads.Where(t => !t.IsDone).Select(t => $"{t.Name} waits for {t.BlockedOn ?? "nothing runnable"}"))
            : null;
        return new RunResult(outcome, report, Scheduler.CurrentStep, Scheduler.Schedule.ToArray(), Scheduler.TraceHash, deadlock);
    }

    /// <summary>Record an event of the current step in its thread's trace and in the run hash.</summary>
    public void Trace(string what, ulong a, ulong b)
    {
        Scheduler.Mix(a);
        Scheduler.Mix(b);
        CurrentThread?.Trace.Add(new TraceEntry(Scheduler.CurrentStep, what, a, b));
    }

    private void Start()
    {
        if (_started) throw new InvalidOperationException("a machine runs once; build a new one for another schedule");
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
    }
}
