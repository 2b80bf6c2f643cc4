// The Xen backend's options: which kernel era frees the guest's page tables how.
using Microsoft.Extensions.Configuration;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Xen;

/// <summary>Options of one Xen PV machine.</summary>
/// <param name="RcuTableFree">Page tables leave through <c>tlb_remove_table</c> and an RCU grace period (false: the 2012 era).</param>
public sealed record XenOptions(bool RcuTableFree)
{
    /// <summary>The arch profile name.</summary>
    public const string X86 = "x86";

    private static readonly IReadOnlyDictionary<string, bool> Eras = new Dictionary<string, bool>(StringComparer.Ordinal)
    {
        ["2012"] = false,
        ["4.19"] = true,
    };

    /// <summary>The declared options.</summary>
    public static IReadOnlyList<PvOptionInfo> Declared { get; } =
    [
        new("era", "2012: the seed RFC's before, tables freed like pages right after the flush hypercall; 4.19: tlb_remove_table through RCU (4.19 and later)", "4.19"),
    ];

    /// <summary>The gather knobs of the era: PARAVIRT selects RCU table free; before it, plain x86.</summary>
    public MmuGatherConfig Gather => RcuTableFree ? ArchProfiles.X86Paravirt : ArchProfiles.X86;

    /// <summary>Reads the options.</summary>
    /// <exception cref="ArgumentException">A value is not what its option expects.</exception>
    public static XenOptions Read(IConfiguration options) => new(PluginOptions.OneOf(options, "era", Eras, true));
}
