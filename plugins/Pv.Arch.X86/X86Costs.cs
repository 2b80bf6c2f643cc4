// The cost an x86 backend declares (PvBackendInfo.Costs) for arch/x86/mm/tlb.c's own tunable, which the engine's
// cost model does not know: every x86 backend (native, Xen PV) lists it, and X86ArchMmu reads it through ICost.
using Pv.Abstractions.Plugins;

namespace Pv.Arch.X86;

/// <summary>The declared costs of the x86 TLB flush code.</summary>
public static class X86Costs
{
    /// <summary>Key of <c>tlb_single_page_flush_ceiling</c>.</summary>
    public const string FlushCeiling = "tlbSinglePageFlushCeiling";

    /// <summary>What an x86 backend declares.</summary>
    public static IReadOnlyList<PvCostInfo> Declared { get; } =
    [
        new(FlushCeiling, "tlb_single_page_flush_ceiling: a range flush of more pages than this becomes a full flush (CR3 reload)", "pages", 33),
    ];
}
