// The Xen backend's options, bound with the Options pattern: the era (a kernel version) decides how the guest's
// page tables are freed. Since 9e52fc2b50de ("x86/mm: Enable RCU based page table freeing", v4.14) x86 selects
// HAVE_RCU_TABLE_FREE for paravirt, so a Xen PV guest frees tables through tlb_remove_table after a grace period;
// before it (the kernels the 2012 seed RFC addressed, through 4.13) they were freed like pages right after the
// flush hypercall.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Xen;

/// <summary>Options of one Xen PV machine.</summary>
public sealed record XenOptions
{
    /// <summary>The arch profile name.</summary>
    public const string X86 = "x86";

    /// <summary>The first kernel that frees a PV guest's page tables through RCU (9e52fc2b50de).</summary>
    public static Version RcuTableFreeSince { get; } = new(4, 14);

    /// <summary>The declared options.</summary>
    public static IReadOnlyList<PvOptionInfo> Declared { get; } =
    [
        new("era", $"the kernel version: before {RcuTableFreeSince} (4.13 and the 2012 seed RFC's kernels), tables freed like pages right after the flush hypercall; " +
            $"{RcuTableFreeSince} or later, tlb_remove_table through RCU (9e52fc2b50de)", "4.19")
        {
            RenamedValues = new Dictionary<string, string> { ["2012"] = "4.13" },
        },
    ];

    /// <summary>The kernel version modelled.</summary>
    public Version Era { get; init; } = new(4, 19);

    /// <summary>Page tables leave through <c>tlb_remove_table</c> and an RCU grace period (false before 4.14).</summary>
    public bool RcuTableFree => Era >= RcuTableFreeSince;

    /// <summary>The gather knobs of the era: PARAVIRT selects RCU table free; before it, plain x86.</summary>
    public MmuGatherConfig Gather => RcuTableFree ? ArchProfiles.X86Paravirt : ArchProfiles.X86;
}
