// arch/x86/mm/tlb.c's flush_tlb_func: what one CPU does with a flush request, whether it arrived by IPI
// (native) or was asked for locally. It guarantees that after it returns the CPU holds no translation of
// the flushed mm older than the request's tlb_gen, or holds no user mm at all:
//  - a CPU that loaded another mm since the request was sent has nothing of this mm to flush here; its
//    cpu_tlbstate generation for the mm stays behind, and switch_mm_irqs_off catches up when it returns;
//  - a CPU in lazy TLB mode (a kernel thread borrowing the mm) switches to init_mm instead of flushing,
//    which drops its paging-structure cache, so its speculative walker can no longer reach the mm's tables;
//  - otherwise the CPU catches up from its generation to mm->context.tlb_gen: a partial flush (one INVLPG
//    per stride) only when this request is exactly the next generation and the last one, else a full flush.
// The local primitives go through the pv ops (flush_tlb_one_user, flush_tlb_user) because that is where a
// paravirtualised guest replaces the INVLPG and CR3 reload with hypercalls.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;

namespace Pv.Arch.X86;

/// <summary>The per-CPU half of the x86 TLB shootdown.</summary>
public static class X86Tlb
{
    /// <summary>
    /// <c>flush_tlb_func</c> on <paramref name="cpu"/>, which must be the CPU running the current step (the IPI
    /// target, or the initiator for a local flush).
    /// </summary>
    /// <param name="cpus">The machine's CPUs (mm tlb_gen and cpumask).</param>
    /// <param name="ops">The pv ops whose local primitives do the invalidation.</param>
    /// <param name="cpu">The CPU handling the request.</param>
    /// <param name="f">The request.</param>
    public static void FlushTlbFunc(ICpus cpus, IPvMmuOps ops, ICpu cpu, in TlbFlushInfo f)
    {
        var loaded = cpu.LoadedMm;
        bool local = cpu.Id == f.InitiatingCpu;
        // A remote CPU may have switched away since it was put in the mask.
        if (!local && f.Mm != loaded) return;
        if (loaded.IsInitMm) return;
        if (cpu.IsLazy)
        {
            // Cheaper than a flush and it takes the paging-structure cache with it; leaving the mm also takes the
            // CPU out of mm_cpumask, so later flushes of this mm leave it alone until it switches back.
            cpus.ClearMmCpumask(loaded, cpu.Id);
            cpu.SwitchToInitMm();
            return;
        }
        ulong localGen = cpu.LoadedTlbGen;
        if (f.NewTlbGen <= localGen) return;
        ulong mmGen = cpus.MmTlbGen(loaded);
        if (localGen == mmGen) return;
        // A partial flush is safe only if every earlier generation was already handled here (the request is
        // local + 1), and worth it only if it brings the CPU fully up to date (the request is the latest).
        if (!f.IsFullFlush && f.NewTlbGen == localGen + 1 && f.NewTlbGen == mmGen)
        {
            for (ulong address = f.Start; address < f.End; address += 1UL << f.StrideShift)
                ops.FlushTlbOneUser(address);
        }
        else ops.FlushTlbUser();
        cpu.LoadedTlbGen = mmGen;
    }
}
