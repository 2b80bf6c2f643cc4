// The x86 pv_mmu_ops every x86 backend starts from: the bare-metal local flush primitives (INVLPG, CR3
// reload, CR4.PGE toggle) and switch_mm_irqs_off with its tlb_gen catch-up. A backend adds how a flush
// reaches other CPUs (flush_tlb_multi) and how a page-table page leaves an mmu_gather (tlb_remove_table).
//
// cpu_tlbstate: a CPU remembers, for each mm it ran and left, the tlb_gen it had caught up with. A CPU that
// missed flushes (it was lazy and skipped, it switched away, or it dropped to init_mm) is behind, and
// switching back to the mm flushes it before user code runs again. The kernel keeps TLB_NR_DYN_ASIDS such
// slots; Pv tags TLB entries with the mm itself, so one slot per mm gives the same answers without ASID
// reuse.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace Pv.Arch.X86;

/// <summary>x86 pv_mmu_ops with the bare-metal primitives.</summary>
public abstract class X86PvMmuOps : IPvMmuOps
{
    private readonly Dictionary<MmId, ulong>[] _ctxs;

    /// <summary>Creates the per-CPU state for <paramref name="cpus"/>.</summary>
    protected X86PvMmuOps(ICpus cpus)
    {
        Cpus = cpus;
        _ctxs = new Dictionary<MmId, ulong>[cpus.Count];
        for (int i = 0; i < _ctxs.Length; i++) _ctxs[i] = [];
    }

    /// <summary>The machine's CPUs.</summary>
    protected ICpus Cpus { get; }

    /// <summary><c>native_flush_tlb_local</c>: reload CR3, dropping the loaded PCID's entries and walk caches.</summary>
    public virtual void FlushTlbUser()
    {
        var cpu = Cpus.Current;
        cpu.Invalidate(TlbInvalidation.Asid(cpu.LoadedMm));
    }

    /// <summary><c>native_flush_tlb_global</c>: toggle CR4.PGE, global entries included.</summary>
    public virtual void FlushTlbKernel() => Cpus.Current.Invalidate(TlbInvalidation.All);

    /// <summary>
    /// <c>native_flush_tlb_one_user</c>: INVLPG. The SDM has INVLPG drop the paging-structure caches as well, which is
    /// what makes a partial flush enough after page tables were freed.
    /// </summary>
    public virtual void FlushTlbOneUser(ulong address)
    {
        var cpu = Cpus.Current;
        cpu.Invalidate(TlbInvalidation.Page(cpu.LoadedMm, address, walkCaches: true));
    }

    /// <inheritdoc/>
    public abstract void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info);

    /// <inheritdoc/>
    public abstract void TlbRemoveTable(IMmuGather tlb, Pfn table);

    /// <summary>
    /// <c>switch_mm_irqs_off</c>: leaving an mm records its generation and stops remote flushes to this CPU (the
    /// 4.19–6.x clearing of mm_cpumask); entering one flushes first if this CPU is behind its tlb_gen, including the
    /// return of a lazy CPU to the mm it held.
    /// </summary>
    public void SwitchMm(MmId prev, MmId next)
    {
        var cpu = Cpus.Current;
        var real = cpu.LoadedMm;
        if (real == next && !cpu.IsLazy) return;
        var ctxs = _ctxs[cpu.Id];
        bool known;
        ulong seen;
        if (real == next) (known, seen) = (true, cpu.LoadedTlbGen);
        else
        {
            if (!real.IsInitMm)
            {
                ctxs[real] = cpu.LoadedTlbGen;
                Cpus.ClearMmCpumask(real, cpu.Id);
            }
            known = ctxs.Remove(next, out seen);
        }
        // Joining mm_cpumask before reading tlb_gen: a flush that misses this CPU has already bumped the generation.
        cpu.LoadMm(next);
        if (next.IsInitMm) return;
        ulong nextGen = Cpus.MmTlbGen(next);
        if (!known || seen < nextGen) FlushTlbUser();
        cpu.LoadedTlbGen = nextGen;
    }
}
