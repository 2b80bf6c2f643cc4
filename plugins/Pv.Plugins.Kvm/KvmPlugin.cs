// The KVM guest backend: an x86 guest whose remote TLB flush skips the IPI to vCPUs the host has preempted and
// asks the host to flush them before they run again (kvm_flush_tlb_multi, KVM_VCPU_FLUSH_TLB in steal_time). The
// host does that in record_steal_time when it resumes the vCPU: the engine's host side (a `host` thread's
// vcpu-preempt and vcpu-resume, with or without the CVE-2019-3016 fix, kernel toggle stealTimeXchg).
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Kvm;

/// <summary>Entry point of the KVM guest plugin.</summary>
public sealed class KvmPlugin : IPvPlugin
{
    /// <inheritdoc/>
    public string Name => "kvm";

    /// <inheritdoc/>
    public Version Version { get; } = typeof(KvmPlugin).Assembly.GetName().Version!;

    /// <inheritdoc/>
    public IReadOnlyList<PvBackendInfo> Backends { get; } =
    [
        new(KvmOptions.X86, "x86 KVM guest with PV TLB flush: no IPI to a preempted vCPU (KVM_VCPU_FLUSH_TLB for the host), IPIs to running ones, RCU table free",
            KvmOptions.Declared)
        {
            Costs = X86Costs.Declared,
        },
    ];

    /// <inheritdoc/>
    public void Register(IServiceCollection services, IConfiguration options) =>
        services.AddOptions<KvmOptions>().Bind(options).ValidateOnStart();
}
