// One simulated CPU: its TLB and paging-structure cache, the mm its MMU uses (and whether it holds that mm
// lazily for a kernel thread), its IRQ state, and the IPIs waiting for it. An IPI is taken only while IRQs
// are enabled, as an interrupt between two steps of whatever runs there; that is the whole reason a
// waited IPI synchronises with a lockless walker running with IRQs off.
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Cpu;

/// <summary>A CPU of the machine.</summary>
internal sealed class SimCpu : ICpu
{
    private readonly Machine _machine;
    private readonly Queue<(IpiHandler Handler, AckCounter? Ack)> _pendingIpis = new();
    private readonly Stack<HardwareWalk> _walks = new();
    private int _irqOffDepth;
    private int _rcuReadDepth;

    internal SimCpu(Machine machine, int id, MachineOptions options)
    {
        _machine = machine;
        Id = id;
        Tlb = new Tlb(options.TlbEntries, options.TlbWays);
        WalkCache = new WalkCache(options.WalkCacheEntries);
        Interrupts = new IrqEntity(this);
    }

    /// <summary>As new, for a reset machine: no mm but init_mm, IRQs on, no IPI queued, empty TLB and walk cache.</summary>
    internal void Reset()
    {
        _pendingIpis.Clear();
        _irqOffDepth = 0;
        _rcuReadDepth = 0;
        Tlb.Reset();
        WalkCache.Reset();
        LoadedMm = MmId.InitMm;
        IsLazy = false;
        LoadedTlbGen = 0;
        WalkGeneration = 0;
        LastThread = null;
        IrqOffOwner = null;
        Interrupts.Id = -1;
        VcpuPreempted = false;
        StealTimePreempted = 0;
    }

    /// <summary>
    /// The host has descheduled this vCPU: nothing of the guest runs on it (its threads, its hardware walker, the IPIs
    /// it would take) until the host runs it again. Its TLB, IRQ state and RCU read-side state stay as they were.
    /// </summary>
    internal bool VcpuPreempted { get; set; }

    /// <summary>The vCPU's <c>steal_time.preempted</c> byte in guest memory (<see cref="Abstractions.Host.KvmVcpuState"/>).</summary>
    internal byte StealTimePreempted { get; set; }

    /// <summary>A hardware walk of this CPU to set up (<see cref="Mmu.Walk"/>): an idle one from the pool, or a new one.</summary>
    internal HardwareWalk RentWalk() => _walks.TryPop(out var walk) ? walk : new HardwareWalk(this);

    /// <summary>A walk its thread is done with.</summary>
    internal void ReturnWalk(HardwareWalk walk) => _walks.Push(walk);

    /// <inheritdoc/>
    public int Id { get; }

    /// <summary>The TLB.</summary>
    public Tlb Tlb { get; }

    /// <summary>The paging-structure cache.</summary>
    public WalkCache WalkCache { get; }

    /// <inheritdoc/>
    public MmId LoadedMm { get; private set; } = MmId.InitMm;

    /// <inheritdoc/>
    public bool IsLazy { get; private set; }

    /// <inheritdoc/>
    public bool IrqsEnabled => _irqOffDepth == 0;

    /// <inheritdoc/>
    public ulong LoadedTlbGen { get; set; }

    /// <summary>Inside an RCU read-side critical section (IRQs off count as one: RCU-sched).</summary>
    public bool InRcuReader => _irqOffDepth > 0 || _rcuReadDepth > 0;

    /// <summary>Bumped by every invalidation of walk caches and every CR3 write: an in-flight hardware walk restarts.</summary>
    public uint WalkGeneration { get; private set; }

    /// <summary>How a speculative walk by this CPU's hardware is named in reports.</summary>
    internal string SpeculativeAgent => _speculativeAgent ??= $"cpu{Id} (speculative)";

    private string? _speculativeAgent;

    /// <summary>IPIs queued and not yet taken.</summary>
    public int PendingIpis => _pendingIpis.Count;

    /// <summary>The schedulable entity that delivers this CPU's IPIs.</summary>
    internal IrqEntity Interrupts { get; }

    /// <inheritdoc/>
    public void Invalidate(in TlbInvalidation inv)
    {
        var m = _machine.Metrics;
        var cost = _machine.Cost;
        (inv.Kind switch
        {
            TlbInvalidationKind.Page => m.TlbFlushPage,
            TlbInvalidationKind.Range => m.TlbFlushRange,
            TlbInvalidationKind.Asid => m.TlbFlushAsid,
            _ => m.TlbFlushAll,
        }).Increment();
        cost.Charge(Id, inv.Kind switch
        {
            TlbInvalidationKind.Page => cost.Model.LocalInvlpg,
            TlbInvalidationKind.Range => cost.Model.LocalInvlpg * RangePages(inv),
            TlbInvalidationKind.All => cost.Model.GlobalFlush,
            _ => cost.Model.LocalFullFlush,
        });
        _machine.Trace(TraceEvents.TlbInvalidate, inv.Start, (ulong)inv.Kind, inv.End);
        ApplyRemote(inv);
    }

    /// <summary>
    /// Apply an invalidation to this CPU's TLB and walk cache from outside (a hypervisor or a hardware
    /// broadcast): no interrupt, no cost charged here.
    /// </summary>
    internal void ApplyRemote(in TlbInvalidation inv)
    {
        // Dropping paging-structure caches also stops any hardware walk in flight here: after the invalidation
        // completes the CPU cannot go on using a table pointer it read before.
        if (inv.WalkCaches || inv.Kind >= TlbInvalidationKind.Asid) WalkGeneration++;
        switch (inv.Kind)
        {
            case TlbInvalidationKind.Page:
                Tlb.FlushPage(inv.Mm.Value, inv.Start);
                if (inv.WalkCaches) WalkCache.FlushRange(inv.Mm.Value, inv.Start, inv.Start + 1);
                break;
            case TlbInvalidationKind.Range:
                int stride = Math.Max(inv.StrideShift, PageGeometry.PageShift);
                for (ulong a = inv.Start; a < inv.End; a += 1UL << stride) Tlb.FlushPage(inv.Mm.Value, a);
                if (inv.WalkCaches) WalkCache.FlushRange(inv.Mm.Value, inv.Start, inv.End);
                break;
            case TlbInvalidationKind.Asid:
                Tlb.FlushAsid(inv.Mm.Value);
                WalkCache.FlushAsid(inv.Mm.Value);
                break;
            case TlbInvalidationKind.AllUser:
                Tlb.FlushAllUser();
                WalkCache.FlushAll();
                break;
            case TlbInvalidationKind.All:
                Tlb.FlushAll();
                WalkCache.FlushAll();
                break;
        }
    }

    private static long RangePages(in TlbInvalidation inv) =>
        (long)((inv.End - inv.Start) >> Math.Max(inv.StrideShift, PageGeometry.PageShift));

    /// <inheritdoc/>
    public void LoadMm(MmId mm)
    {
        var prev = LoadedMm;
        LoadedMm = mm;
        IsLazy = false;
        WalkGeneration++;
        if (!mm.IsInitMm) _machine.Mm(mm).CpuMask.Set(Id);
        _machine.Trace(TraceEvents.LoadMm, (ulong)prev.Value, (ulong)mm.Value);
    }

    /// <inheritdoc/>
    public void SwitchToInitMm()
    {
        var prev = LoadedMm;
        // Dropping a lazily held mm drops its walk-cache entries with it (a CR3 write to init_mm's tables).
        if (!prev.IsInitMm) WalkCache.FlushAsid(prev.Value);
        WalkGeneration++;
        LoadedMm = MmId.InitMm;
        IsLazy = false;
        _machine.Trace(TraceEvents.SwitchToInitMm, (ulong)prev.Value, 0);
    }

    /// <summary>A kernel thread starts on this CPU: keep the user mm loaded, lazily (enter_lazy_tlb).</summary>
    public void EnterLazy()
    {
        IsLazy = true;
        _machine.Trace(TraceEvents.EnterLazyTlb, (ulong)LoadedMm.Value, 0);
    }

    /// <summary>The thread that ran the last step on this CPU (a different one next is a context switch).</summary>
    internal SimThread? LastThread { get; set; }

    /// <summary>
    /// The thread that disabled interrupts here, while they are off: nothing preempts it, so no other thread of this CPU
    /// runs until it enables them again.
    /// </summary>
    public SimThread? IrqOffOwner { get; private set; }

    /// <summary><c>local_irq_disable</c> (nests).</summary>
    public void IrqDisable()
    {
        if (_irqOffDepth == 0) IrqOffOwner = _machine.CurrentThread;
        _irqOffDepth++;
        _machine.Trace(TraceEvents.LocalIrqDisable, 0, (ulong)_irqOffDepth);
    }

    /// <summary><c>local_irq_enable</c>: pending IPIs become deliverable; may end an RCU reader section.</summary>
    public void IrqEnable()
    {
        if (_irqOffDepth == 0) throw new ProgramException($"cpu{Id}: local_irq_enable with IRQs on (irq-on without an irq-off before it)");
        _irqOffDepth--;
        if (_irqOffDepth == 0) IrqOffOwner = null;
        _machine.Trace(TraceEvents.LocalIrqEnable, 0, (ulong)_irqOffDepth);
        if (!InRcuReader) _machine.Rcu.QuiescentState(this);
    }

    /// <summary><c>rcu_read_lock</c>.</summary>
    public void RcuReadLock() => _rcuReadDepth++;

    /// <summary><c>rcu_read_unlock</c>.</summary>
    public void RcuReadUnlock()
    {
        if (_rcuReadDepth == 0) throw new ProgramException($"cpu{Id}: rcu_read_unlock without rcu_read_lock");
        _rcuReadDepth--;
        if (!InRcuReader) _machine.Rcu.QuiescentState(this);
    }

    internal void QueueIpi(IpiHandler handler, AckCounter? ack)
    {
        _pendingIpis.Enqueue((handler, ack));
        _machine.PendingIpis++;
    }

    internal void TakeOneIpi()
    {
        var (handler, ack) = _pendingIpis.Dequeue();
        _machine.PendingIpis--;
        _machine.Metrics.InterruptsTaken.Increment();
        _machine.Cost.Charge(Id, _machine.Cost.Model.IpiTargetInterrupt);
        _machine.Trace(TraceEvents.IpiTaken, 0, (ulong)Id);
        handler(this);
        ack?.Ack();
    }

    /// <inheritdoc/>
    public override string ToString() => $"cpu{Id}";

    /// <summary>Delivers this CPU's pending IPIs, one per step, while its IRQs are on.</summary>
    internal sealed class IrqEntity(SimCpu cpu) : ISchedulable
    {
        public int Id { get; set; } = -1;
        public string Name { get; } = $"irq{cpu.Id}";
        public SimCpu Cpu => cpu;
        public bool IsRunnable => cpu._pendingIpis.Count > 0 && cpu._irqOffDepth == 0 && !cpu.VcpuPreempted;
        public void RunStep() => cpu.TakeOneIpi();
    }
}
