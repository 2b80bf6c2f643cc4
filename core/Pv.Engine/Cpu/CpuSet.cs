// The machine's CPUs as the ICpus host service: per-mm cpumask and tlb_gen, and hardware broadcast
// invalidation (arm64 TLBI IS, INVLPGB), which reaches every CPU's TLB without interrupting it.
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Cpu;

/// <summary>All CPUs of a machine.</summary>
internal sealed class CpuSet : ICpus
{
    private readonly Machine _machine;
    private readonly SimCpu[] _cpus;

    internal CpuSet(Machine machine, MachineOptions options)
    {
        _machine = machine;
        _cpus = new SimCpu[options.Cpus];
        for (int i = 0; i < _cpus.Length; i++) _cpus[i] = new SimCpu(machine, i, options);
        Online = CpuMask.FirstN(options.Cpus);
    }

    /// <summary>As new, for a reset machine: every CPU reset, no broadcast observer (the plugin that added one is gone).</summary>
    internal void Reset()
    {
        foreach (var cpu in _cpus) cpu.Reset();
        _observers.Clear();
    }

    /// <summary>Every CPU, by number.</summary>
    public IReadOnlyList<SimCpu> All => _cpus;

    /// <inheritdoc/>
    public int Count => _cpus.Length;

    /// <inheritdoc/>
    public ICpu Current => _machine.CurrentCpu;

    /// <summary>CPU <paramref name="cpu"/>, as the engine's type.</summary>
    public SimCpu this[int cpu] => _cpus[cpu];

    ICpu ICpus.this[int cpu] => _cpus[cpu];

    /// <inheritdoc/>
    public CpuMask Online { get; }

    /// <inheritdoc/>
    public CpuMask MmCpumask(MmId mm) => _machine.Mm(mm).CpuMask;

    /// <inheritdoc/>
    public void ClearMmCpumask(MmId mm, int cpu) => _machine.Mm(mm).CpuMask.Clear(cpu);

    /// <inheritdoc/>
    public ulong MmTlbGen(MmId mm) => _machine.Mm(mm).TlbGen;

    /// <inheritdoc/>
    public ulong IncMmTlbGen(MmId mm) => ++_machine.Mm(mm).TlbGen;

    /// <inheritdoc/>
    public void BroadcastInvalidate(in TlbInvalidation invalidation)
    {
        _machine.Metrics.TlbBroadcast.Increment();
        long pages = invalidation.Kind switch
        {
            TlbInvalidationKind.Page => 1,
            TlbInvalidationKind.Range => (long)((invalidation.End - invalidation.Start) >> Math.Max(invalidation.StrideShift, 12)),
            _ => 1,
        };
        var cost = _machine.Cost;
        cost.Charge(_machine.CurrentCpu.Id, cost.Model.BroadcastTlbiPerPage * Math.Max(pages, 1));
        _machine.Trace(TraceEvents.TlbiBroadcast, invalidation.Start, (ulong)invalidation.Kind, invalidation.End);
        foreach (var cpu in _cpus) cpu.ApplyRemote(invalidation);
        foreach (var observer in _observers) observer.OnBroadcastInvalidate(invalidation);
    }

    /// <inheritdoc/>
    public void AddBroadcastObserver(ITlbBroadcastObserver observer) => _observers.Add(observer);

    private readonly List<ITlbBroadcastObserver> _observers = [];
}
