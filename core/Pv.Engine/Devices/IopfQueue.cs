// I/O page faults (drivers/iommu/io-pgfault.c): a device's faulting access is reported with
// iommu_report_device_fault, queued to the IOPF workqueue, and handled there by handle_mm_fault on the bound
// mm (iommu_sva_handle_mm); the page response (iopf_group_response) then lets the stalled device retry. The
// workqueue is one kernel thread; each fault becomes an operation queued on it, so faults from many devices
// are handled in the order they were reported.
using Pv.Abstractions.Mm;
using Pv.Engine.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Devices;

/// <summary>The page response to one fault.</summary>
internal enum PageResponse : byte
{
    /// <summary>Not answered yet.</summary>
    Pending,
    /// <summary>IOMMU_PAGE_RESP_SUCCESS: the fault was handled; retry the access.</summary>
    Success,
    /// <summary>IOMMU_PAGE_RESP_INVALID: no mapping can be made (no VMA, no permission, mm gone); the access fails.</summary>
    Invalid,
}

/// <summary>One reported fault: the device stalls on it until it is answered.</summary>
internal sealed class IopfFault(string device, MmStruct mm, ulong address, AccessKind access) : IWaitCondition
{
    /// <summary>The device, for reports.</summary>
    public string Device { get; } = device;
    /// <summary>The bound mm.</summary>
    public MmStruct Mm { get; } = mm;
    /// <summary>The faulting address.</summary>
    public ulong Address { get; } = address;
    /// <summary>The access that faulted.</summary>
    public AccessKind Access { get; } = access;
    /// <summary>The page response.</summary>
    public PageResponse Response { get; internal set; }

    /// <inheritdoc/>
    public bool IsSatisfied => Response != PageResponse.Pending;

    /// <inheritdoc/>
    public string Describe() => $"page response to {Device}'s fault at {Address:x}";
}

/// <summary>The IOPF workqueue of one machine.</summary>
internal sealed class IopfQueue
{
    private readonly Machine _machine;
    private readonly Abstractions.Host.PvCounter _reported, _invalid;

    /// <summary>Creates the queue and its worker thread; call before the machine runs.</summary>
    public IopfQueue(Machine machine)
    {
        _machine = machine;
        Worker = machine.AddThread("iopf", ThreadKind.Kernel, null, null);
        _reported = machine.Metrics.Counter("iommu.iopf");
        _invalid = machine.Metrics.Counter("iommu.iopf_invalid");
    }

    /// <summary>The workqueue's kernel thread.</summary>
    public SimThread Worker { get; }

    /// <summary><c>iommu_report_device_fault</c>: queue the fault; the caller waits on the returned fault for its response.</summary>
    public IopfFault Report(string device, MmStruct mm, ulong address, AccessKind access)
    {
        _reported.Increment();
        var fault = new IopfFault(device, mm, address, access);
        _machine.Trace(TraceEvents.IommuReportDeviceFault, address, (ulong)access);
        Worker.Enqueue(Handle(fault));
        return fault;
    }

    /// <summary><c>iommu_sva_handle_mm</c>, then the page response.</summary>
    private IEnumerable<Step> Handle(IopfFault fault)
    {
        var outcome = new FaultOutcome();
        // mmget_not_zero: an mm that has exited cannot be faulted in.
        if (!fault.Mm.Dead) yield return Step.Call(Fault.HandleMmFault(_machine, Worker, fault.Mm, fault.Address, fault.Access, outcome));
        bool handled = !fault.Mm.Dead && outcome.Result == FaultResult.Handled;
        if (!handled) _invalid.Increment();
        fault.Response = handled ? PageResponse.Success : PageResponse.Invalid;
        _machine.Trace(TraceEvents.IopfPageResponse, fault.Address, (ulong)fault.Response);
        yield return Step.Yield;
    }
}
