// The x86 arch TLB interface on bare metal: arch/x86/mm/tlb.c as shared with the Xen backend, with the gather
// knobs of the chosen era (or of the profile named by gatherProfile) and the flush_tlb_range macro of its era.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Native.X86;

/// <summary>x86 bare-metal IArchMmu.</summary>
[PvArch(NativeOptions.X86)]
internal sealed class NativeX86ArchMmu(IPvMmuOps pvOps, ICpus cpus, IIpi ipi, IMmuNotifierRegistry notifiers, ICost cost, IOptions<NativeOptions> options)
    : X86ArchMmu(pvOps, cpus, ipi, notifiers, cost)
{
    /// <inheritdoc/>
    public override MmuGatherConfig GatherConfig { get; } = options.Value.Gather;

    /// <inheritdoc/>
    protected override bool FlushTlbRangeFreedTables { get; } = options.Value.FlushTlbRangeFreedTables;
}
