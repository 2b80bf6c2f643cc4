// pv_mmu_ops (arch/x86/include/asm/paravirt_types.h), generalised: every backend implements this table;
// for UML and arm64 it is their arch TLB interface under the same names.
//
// Execution model every plugin method relies on: a call runs atomically, as one step of the simulated
// thread that made it, on the CPU that ICpus.Current names. A method never blocks inside; when it needs
// to wait (a waited IPI, SynchronizeRcu, an SMMU CMD_SYNC) it asks the host, and the calling thread takes
// no further step until the wait is over. Work that must follow the wait goes through IWaits.Then.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;

namespace Pv.Abstractions.Mm;

/// <summary>
/// The paravirt MMU operations. Defaults are the bare-metal behaviour where one exists, so a backend
/// overrides only what its platform changes.
/// </summary>
public interface IPvMmuOps
{
    /// <summary><c>flush_tlb_user</c>: drop this CPU's non-global translations of the loaded mm.</summary>
    void FlushTlbUser();

    /// <summary><c>flush_tlb_kernel</c>: drop all of this CPU's translations, global ones and walk caches included.</summary>
    void FlushTlbKernel();

    /// <summary><c>flush_tlb_one_user</c>: drop this CPU's translation of one user page.</summary>
    void FlushTlbOneUser(ulong address);

    /// <summary>
    /// <c>flush_tlb_multi</c>: flush <paramref name="info"/> on every CPU of <paramref name="cpus"/>, the calling
    /// CPU included when it is in the mask. Native x86 sends IPIs and waits; Xen asks the hypervisor.
    /// </summary>
    void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info);

    /// <summary>
    /// The seed RFC's <c>tlb_remove_table</c> pv op: how a page-table page leaves the gather. Bare metal
    /// before 6.15 calls <see cref="IMmuGather.RemovePage"/> (freed after the IPI flush); paravirt and 6.15+
    /// call <see cref="IMmuGather.RemoveTable"/> (batched, RCU-deferred).
    /// </summary>
    void TlbRemoveTable(IMmuGather tlb, Pfn table);

    /// <summary><c>exit_mmap</c>: the mm is being torn down (Xen unpins its page tables here).</summary>
    void ExitMmap(MmId mm) { }

    /// <summary><c>pgd_alloc</c>: a new top-level table for <paramref name="mm"/>.</summary>
    void PgdAlloc(MmId mm, Pfn pgd) { }

    /// <summary><c>pgd_free</c>.</summary>
    void PgdFree(MmId mm, Pfn pgd) { }

    /// <summary><c>alloc_pte</c>: a PTE table is about to be linked into <paramref name="mm"/>.</summary>
    void AllocPte(MmId mm, Pfn table) { }

    /// <summary><c>alloc_pmd</c>.</summary>
    void AllocPmd(MmId mm, Pfn table) { }

    /// <summary><c>alloc_pud</c>.</summary>
    void AllocPud(MmId mm, Pfn table) { }

    /// <summary><c>alloc_p4d</c> (5-level paging).</summary>
    void AllocP4d(MmId mm, Pfn table) { }

    /// <summary><c>release_pte</c>: a PTE table was unlinked and will be freed.</summary>
    void ReleasePte(Pfn table) { }

    /// <summary><c>release_pmd</c>.</summary>
    void ReleasePmd(Pfn table) { }

    /// <summary><c>release_pud</c>.</summary>
    void ReleasePud(Pfn table) { }

    /// <summary><c>release_p4d</c>.</summary>
    void ReleaseP4d(Pfn table) { }

    /// <summary>
    /// <c>set_pte</c> / <c>set_pmd</c> / <c>set_pud</c>: write one entry. The write must be visible to the
    /// engine's next read of <paramref name="slot"/>; a backend may account it as batched (Xen's multicall)
    /// but may not delay it.
    /// </summary>
    void SetPte(IPageTables tables, PteSlot slot, PageTableEntry entry) => tables.Write(slot, entry);

    /// <summary><c>arch_enter_lazy_mmu_mode</c>: page-table updates until leave may be batched.</summary>
    void EnterLazyMmu() { }

    /// <summary><c>arch_leave_lazy_mmu_mode</c>: issue what was batched.</summary>
    void LeaveLazyMmu() { }

    /// <summary><c>arch_flush_lazy_mmu_mode</c>: issue what was batched and stay in lazy mode.</summary>
    void FlushLazyMmu() { }

    /// <summary>
    /// <c>switch_mm_irqs_off</c> on the current CPU: load <paramref name="next"/> (use
    /// <see cref="ICpu.LoadMm"/>) and catch up on flushes it missed while away (<c>tlb_gen</c>). After
    /// <see cref="SwitchMmBegin"/> returned true, it only completes that switch.
    /// </summary>
    void SwitchMm(MmId prev, MmId next);

    /// <summary>
    /// The part of <c>switch_mm_irqs_off</c> that other CPUs can see before the switch is complete, for a backend whose
    /// flush looks at it: x86 joins next's mm_cpumask, reads its <c>tlb_gen</c> and writes CR3 while
    /// <c>cpu_tlbstate.loaded_mm</c> still says LOADED_MM_SWITCHING. Return true to leave the switch half done: the
    /// engine then takes one step (IRQs still off, so other CPUs' flushes can run but no IPI is taken here) before
    /// calling <see cref="SwitchMm"/> to complete it. Default: false, and <see cref="SwitchMm"/> does the whole switch
    /// in one step. Added in contract 1.0 without a version bump: a default member.
    /// </summary>
    bool SwitchMmBegin(MmId prev, MmId next) => false;
}
