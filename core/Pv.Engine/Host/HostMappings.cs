// The host side of User-Mode Linux: every UML mm is a host process whose mappings are UML's TLB. Host
// mmap/munmap/mprotect change them, are counted (syscalls, bytes) and queued to the stub; the calls
// between two stub flushes form one round trip. A process may hold at most MaxMappings mappings; beyond
// that mmap fails with -ENOMEM, as the host's vm.max_map_count does. Each host mmap/mprotect is stamped with
// its step: a host mapping is UML's TLB entry, and O3 asks whether it predates the change that made it stale.
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Host;

/// <summary>IHostMappings on a machine.</summary>
internal sealed class HostMappings : IHostMappings
{
    private const int ENOMEM = -12;
    private const int EINVAL = -22;
    private readonly Machine _machine;
    private readonly Dictionary<int, List<HostMapping>> _byMm = [];
    private readonly Dictionary<int, int> _queued = [];
    private readonly Dictionary<int, List<(ulong Start, ulong End, long Step)>> _writes = [];
    private readonly Abstractions.Host.PvCounter _syscalls, _bytes, _roundTrips;

    internal HostMappings(Machine machine)
    {
        _machine = machine;
        _syscalls = machine.Metrics.Counter("host.syscall");
        _bytes = machine.Metrics.Counter("host.bytes");
        _roundTrips = machine.Metrics.Counter("host.stub_roundtrip");
    }

    /// <summary>The host's map-count limit per process.</summary>
    public int MaxMappings { get; set; } = 65530;

    /// <summary>The mappings of <paramref name="mm"/>, sorted by address.</summary>
    public IReadOnlyList<HostMapping> Of(MmId mm) => List(mm);

    /// <inheritdoc/>
    public int Mmap(MmId mm, ulong address, ulong length, HostProt prot, ulong offset)
    {
        if (length == 0) return EINVAL;
        Count(mm, length);
        var list = List(mm);
        Remove(list, address, address + length);
        if (list.Count >= MaxMappings) return ENOMEM;
        int i = 0;
        while (i < list.Count && list[i].Address < address) i++;
        list.Insert(i, new HostMapping(address, length, prot, offset));
        Stamp(mm, address, length);
        return 0;
    }

    /// <inheritdoc/>
    public int Munmap(MmId mm, ulong address, ulong length)
    {
        if (length == 0) return EINVAL;
        Count(mm, length);
        Remove(List(mm), address, address + length);
        return 0;
    }

    /// <inheritdoc/>
    public int Mprotect(MmId mm, ulong address, ulong length, HostProt prot)
    {
        if (length == 0) return EINVAL;
        Count(mm, length);
        var list = List(mm);
        var covered = list.Where(m => m.Address < address + length && address < m.Address + m.Length).ToList();
        Remove(list, address, address + length);
        foreach (var m in covered)
        {
            ulong lo = Math.Max(m.Address, address), hi = Math.Min(m.Address + m.Length, address + length);
            int i = 0;
            while (i < list.Count && list[i].Address < lo) i++;
            list.Insert(i, new HostMapping(lo, hi - lo, prot, m.Offset + (lo - m.Address)));
        }
        Stamp(mm, address, length);
        return 0;
    }

    /// <inheritdoc/>
    public void FlushStub(MmId mm)
    {
        if (!_queued.TryGetValue(mm.Value, out int n) || n == 0) return;
        _queued[mm.Value] = 0;
        _roundTrips.Increment();
        _machine.Cost.Charge(_machine.CurrentCpu.Id, _machine.Cost.Model.StubRoundTrip);
        _machine.Trace(TraceEvents.StubFlush, (ulong)mm.Value, (ulong)n);
    }

    /// <inheritdoc/>
    public bool TryLookup(MmId mm, ulong address, out HostMapping mapping)
    {
        foreach (var m in List(mm))
        {
            if (address >= m.Address && address < m.Address + m.Length)
            {
                mapping = m;
                return true;
            }
        }
        mapping = default;
        return false;
    }

    /// <summary>The step the host mapping of <paramref name="address"/> was last written (mmap or mprotect) at, or -1.</summary>
    public long FilledAt(MmId mm, ulong address)
    {
        if (!_writes.TryGetValue(mm.Value, out var writes)) return -1;
        for (int i = writes.Count - 1; i >= 0; i--)
            if (address >= writes[i].Start && address < writes[i].End) return writes[i].Step;
        return -1;
    }

    private void Stamp(MmId mm, ulong address, ulong length)
    {
        if (!_writes.TryGetValue(mm.Value, out var writes)) _writes[mm.Value] = writes = [];
        writes.Add((address, address + length, _machine.Step));
    }

    private void Count(MmId mm, ulong length)
    {
        _syscalls.Increment();
        _bytes.Add((long)length);
        _machine.Cost.Charge(_machine.CurrentCpu.Id, _machine.Cost.Model.HostSyscall);
        _queued[mm.Value] = _queued.GetValueOrDefault(mm.Value) + 1;
        _machine.Trace(TraceEvents.HostSyscall, (ulong)mm.Value, length);
    }

    private List<HostMapping> List(MmId mm)
    {
        if (!_byMm.TryGetValue(mm.Value, out var list)) _byMm[mm.Value] = list = [];
        return list;
    }

    /// <summary>Cut [start, end) out of the mappings, splitting the ones that straddle its edges.</summary>
    private static void Remove(List<HostMapping> list, ulong start, ulong end)
    {
        for (int i = 0; i < list.Count;)
        {
            var m = list[i];
            ulong mEnd = m.Address + m.Length;
            if (mEnd <= start || m.Address >= end) { i++; continue; }
            list.RemoveAt(i);
            if (m.Address < start) list.Insert(i++, m with { Length = start - m.Address });
            if (mEnd > end) list.Insert(i++, new HostMapping(end, mEnd - end, m.Prot, m.Offset + (end - m.Address)));
        }
    }
}

/// <summary>IDeviceDmaPort on a machine: its devices; command-queue syncs complete at once and are counted.</summary>
internal sealed class DeviceDmaPort : IDeviceDmaPort
{
    private readonly Machine _machine;
    private readonly List<DeviceInfo> _devices = [];
    private readonly Abstractions.Host.PvCounter _syncs;

    internal DeviceDmaPort(Machine machine)
    {
        _machine = machine;
        _syncs = machine.Metrics.Counter("iommu.cmd_sync");
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceInfo> Devices => _devices;

    /// <summary>Attach a device.</summary>
    public DeviceInfo AddDevice(string name, bool ats)
    {
        var d = new DeviceInfo(_devices.Count, name, ats);
        _devices.Add(d);
        return d;
    }

    /// <inheritdoc/>
    public void CommandSync()
    {
        _syncs.Increment();
        _machine.Trace(TraceEvents.CmdSync, 0, 0);
    }
}
