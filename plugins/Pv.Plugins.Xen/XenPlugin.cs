// The Xen PV backend: an x86 guest whose page tables the hypervisor validates, so every page-table write is an
// mmu_update and every TLB flush an MMUEXT hypercall. The hypervisor flushes the target vCPUs itself and does
// not wait for the guest to enable interrupts, so unlike native x86 the flush does not synchronise with a
// GUP-fast walker: page tables must be freed after an RCU grace period (tlb_remove_table), which is the
// seed RFC's fix, in the kernel since 4.14. An era before 4.14 is the RFC's "before": tables freed like pages
// right after the flush.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Xen;

/// <summary>Entry point of the Xen PV plugin.</summary>
public sealed class XenPlugin : IPvPlugin
{
    /// <inheritdoc/>
    public string Name => "xen";

    /// <inheritdoc/>
    public Version Version { get; } = typeof(XenPlugin).Assembly.GetName().Version!;

    /// <inheritdoc/>
    public IReadOnlyList<PvBackendInfo> Backends { get; } =
    [
        new(XenOptions.X86, "x86 Xen PV guest: MMUEXT flush hypercalls (no guest IPI), multicalls in lazy MMU mode, RCU table free", XenOptions.Declared)
        {
            Costs = X86Costs.Declared,
        },
    ];

    /// <inheritdoc/>
    public void Register(IServiceCollection services, IConfiguration options) =>
        services.AddOptions<XenOptions>().Bind(options).ValidateOnStart();
}
