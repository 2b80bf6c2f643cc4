// The x86 pv_mmu_ops every x86 backend starts from: the bare-metal local flush primitives (INVLPG, CR3
// reload, CR4.PGE toggle) and switch_mm_irqs_off with its tlb_gen catch-up, in two parts: CR3 is written
// while cpu_tlbstate.loaded_mm says LOADED_MM_SWITCHING, and only a step later does loaded_mm name the next
// mm, so a remote flush can run in between (what the 6.12+ should_flush_tlb must not skip). A backend adds how a flush
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
    private readonly bool[] _switching;

    /// <summary>Creates the per-CPU state for <paramref name="cpus"/>.</summary>
    protected X86PvMmuOps(ICpus cpus)
    {
        Cpus = cpus;
        _ctxs = new Dictionary<MmId, ulong>[cpus.Count];
        for (int i = 0; i < _ctxs.Length; i++) _ctxs[i] = [];
        _switching = new bool[cpus.Count];
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
    /// Whether switch_mm_irqs_off leaves the CPU in the previous mm's mm_cpumask, to be trimmed later (209954cbc7d0,
    /// v6.12: "x86/mm/tlb: Update mm_cpumask lazily"); before, leaving an mm cleared its bit. Remote flushes then
    /// skip CPUs whose loaded_mm is another mm (should_flush_tlb), which only the 6.12+ flush_tlb_multi does.
    /// </summary>
    protected virtual bool LazyMmCpumask => false;

    /// <summary>
    /// <c>cpu_tlbstate.loaded_mm == LOADED_MM_SWITCHING</c> on <paramref name="cpu"/>: it is between joining the next
    /// mm's cpumask (and its CR3 write) and recording the next mm as loaded. <see cref="ICpu.LoadedMm"/> is CR3, which
    /// already names the next mm in that window.
    /// </summary>
    protected bool IsSwitching(int cpu) => _switching[cpu];

    /// <summary>
    /// <c>switch_mm_irqs_off</c> up to the write of loaded_mm: leaving an mm records its generation (and, before 6.12,
    /// clears its mm_cpumask bit); entering one joins its mm_cpumask, reads its tlb_gen and writes CR3, flushing
    /// first if this CPU is behind, including the return of a lazy CPU to the mm it held. A real switch returns true
    /// with loaded_mm left LOADED_MM_SWITCHING; the lazy return and init_mm complete here (no window matters there).
    /// </summary>
    public bool SwitchMmBegin(MmId prev, MmId next)
    {
        var cpu = Cpus.Current;
        var real = cpu.LoadedMm;
        if (real == next && !cpu.IsLazy) return false;
        var ctxs = _ctxs[cpu.Id];
        bool known;
        ulong seen;
        if (real == next) (known, seen) = (true, cpu.LoadedTlbGen);
        else
        {
            if (!real.IsInitMm)
            {
                ctxs[real] = cpu.LoadedTlbGen;
                if (!LazyMmCpumask) Cpus.ClearMmCpumask(real, cpu.Id);
            }
            known = ctxs.Remove(next, out seen);
        }
        // Joining mm_cpumask before reading tlb_gen: a flush that misses this CPU has already bumped the generation.
        cpu.LoadMm(next);
        if (next.IsInitMm) return false;
        ulong nextGen = Cpus.MmTlbGen(next);
        if (!known || seen < nextGen) FlushTlbUser();
        cpu.LoadedTlbGen = nextGen;
        _switching[cpu.Id] = real != next;
        return _switching[cpu.Id];
    }

    /// <summary><c>switch_mm_irqs_off</c>: complete the switch <see cref="SwitchMmBegin"/> began (loaded_mm = next), or do all of it.</summary>
    public void SwitchMm(MmId prev, MmId next)
    {
        int id = Cpus.Current.Id;
        if (!_switching[id]) SwitchMmBegin(prev, next);
        _switching[id] = false;
    }
}
