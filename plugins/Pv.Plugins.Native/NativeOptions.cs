// The native backends' options, read once per machine from the backend's plugins.json section. Each key is
// an era or fix toggle of the kernel being modelled; defaults are the current kernel's behaviour except
// where the era itself is the choice.
using Microsoft.Extensions.Configuration;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Native;

/// <summary>Which kernel the x86 backend models: where the tlb_remove_table pv op sends page tables.</summary>
public enum X86Era : byte
{
    /// <summary>4.19–6.14 bare metal: the pv op is <c>tlb_remove_page</c>; tables are freed after the waited IPI flush.</summary>
    V4_19,
    /// <summary>6.15+: the pv op is gone; the generic <c>tlb_remove_table</c>, RCU-deferred.</summary>
    V6_15,
}

/// <summary>Options of one native machine.</summary>
/// <param name="Era">x86: the kernel era.</param>
/// <param name="LazyFreedTablesIpi">x86: flush_tlb_multi IPIs lazy-TLB CPUs when page tables were freed.</param>
/// <param name="Gather">The MMU_GATHER_* knobs in force.</param>
/// <param name="ArchInvalidateSecondaryTlbs">arm64: the arch TLB flush calls arch_invalidate_secondary_tlbs (v6.6+).</param>
public sealed record NativeOptions(X86Era Era, bool LazyFreedTablesIpi, MmuGatherConfig Gather, bool ArchInvalidateSecondaryTlbs)
{
    /// <summary>The x86 arch profile name.</summary>
    public const string X86 = "x86";

    /// <summary>The arm64 arch profile name.</summary>
    public const string Arm64 = "arm64";

    private static readonly IReadOnlyDictionary<string, X86Era> Eras = new Dictionary<string, X86Era>(StringComparer.Ordinal)
    {
        ["4.19"] = X86Era.V4_19,
        ["6.15"] = X86Era.V6_15,
    };

    private static readonly PvOptionInfo GatherProfile = new("gatherProfile",
        $"the MMU_GATHER_* knobs of another arch profile on this flush mechanism, to A/B the knobs alone: {string.Join(", ", ArchProfiles.ByName.Keys)}",
        "the backend's own (x86: by era; arm64: arm64)");

    /// <summary>Options of the x86 backend.</summary>
    public static IReadOnlyList<PvOptionInfo> X86Options { get; } =
    [
        new("era", "4.19: 4.19–6.14 bare metal, tables freed like pages after the waited IPI flush; 6.15: RCU table free always", "4.19"),
        new("lazyFreedTablesIpi", "flush_tlb_multi IPIs lazy-TLB CPUs when page tables were freed, so they drop to init_mm and their walk caches; false skips them always (Z5)", "true"),
        GatherProfile,
    ];

    /// <summary>Options of the arm64 backend.</summary>
    public static IReadOnlyList<PvOptionInfo> Arm64Options { get; } =
    [
        new("rcuTableFree", "free page tables after an RCU grace period; false frees them right after the broadcast TLBI (Z1)", "true"),
        new("archInvalidateSecondaryTlbs", "the arch TLB flush (and so the read-only to read-write upgrade flush) calls arch_invalidate_secondary_tlbs, as since v6.6", "true"),
        GatherProfile,
    ];

    /// <summary>Reads the options of the backend whose arch profile is in <c>archProfile</c>.</summary>
    /// <exception cref="ArgumentException">A value is not what its option expects (the message names both).</exception>
    public static NativeOptions Read(IConfiguration options)
    {
        if (options["archProfile"] == Arm64)
        {
            var gather = PluginOptions.OneOf(options, "gatherProfile", ArchProfiles.ByName, ArchProfiles.Arm64);
            // Immediate free keeps the table batch (TABLE_FREE) and drops only the grace period.
            if (!PluginOptions.Bool(options, "rcuTableFree", true))
                gather = gather with { TableFree = gather.EffectiveTableFree, RcuTableFree = false };
            return new NativeOptions(X86Era.V4_19, true, gather, PluginOptions.Bool(options, "archInvalidateSecondaryTlbs", true));
        }
        var era = PluginOptions.OneOf(options, "era", Eras, X86Era.V4_19);
        var eraGather = era == X86Era.V4_19 ? ArchProfiles.X86 : ArchProfiles.X86V615;
        return new NativeOptions(era, PluginOptions.Bool(options, "lazyFreedTablesIpi", true),
            PluginOptions.OneOf(options, "gatherProfile", ArchProfiles.ByName, eraGather), true);
    }
}
