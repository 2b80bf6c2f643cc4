// Decorating a registered service with a host wrapper (the counting pv_mmu_ops, the plugin-fault guards),
// the way Scrutor's Decorate does it — the decorated registration moves under a private key, so the root
// provider still validates it on build — but with the decorator's constructor compiled once per backend
// (ActivatorUtilities.CreateFactory) instead of found by reflection on every resolution: every schedule of a
// search composes its machine's scope again, so this runs millions of times.
using Microsoft.Extensions.DependencyInjection;

namespace Pv.Hosting.Composition;

/// <summary>Registers decorators around services already in a collection.</summary>
internal static class Decoration
{
    /// <summary>
    /// Wraps every registration of <typeparamref name="TService"/> in a <typeparamref name="TDecorator"/> (whose constructor
    /// takes the decorated <typeparamref name="TService"/> and any other registered services), with the same lifetime.
    /// Returns false when nothing is registered for <typeparamref name="TService"/>.
    /// </summary>
    public static bool TryDecorateWith<TService, TDecorator>(this IServiceCollection services) where TService : class where TDecorator : TService
    {
        var create = ActivatorUtilities.CreateFactory(typeof(TDecorator), [typeof(TService)]);
        bool any = false;
        for (int i = 0; i < services.Count; i++)
        {
            var inner = services[i];
            if (inner.ServiceType != typeof(TService) || inner.IsKeyedService) continue;
            var key = new DecoratedKey(typeof(TDecorator), i);
            services.Add(Keyed(inner, key));
            services[i] = new ServiceDescriptor(typeof(TService),
                sp => create(sp, [sp.GetRequiredKeyedService<TService>(key)]), inner.Lifetime);
            any = true;
        }
        return any;
    }

    /// <summary>Like <see cref="TryDecorateWith{TService, TDecorator}"/>, but nothing registered is a bug of the caller.</summary>
    /// <exception cref="InvalidOperationException">No registration of <typeparamref name="TService"/>.</exception>
    public static void DecorateWith<TService, TDecorator>(this IServiceCollection services) where TService : class where TDecorator : TService
    {
        if (!services.TryDecorateWith<TService, TDecorator>())
            throw new InvalidOperationException($"no registration of {typeof(TService).Name} to decorate with {typeof(TDecorator).Name}");
    }

    /// <summary>The decorated registration, moved under <paramref name="key"/>.</summary>
    private static ServiceDescriptor Keyed(ServiceDescriptor d, object key) =>
        d.ImplementationInstance is { } instance ? new ServiceDescriptor(d.ServiceType, key, instance)
        : d.ImplementationFactory is { } factory ? new ServiceDescriptor(d.ServiceType, key, (sp, _) => factory(sp), d.Lifetime)
        : new ServiceDescriptor(d.ServiceType, key, d.ImplementationType!, d.Lifetime);

    /// <summary>The private key of one decorated registration (no plugin can ask for it).</summary>
    private sealed record DecoratedKey(Type Decorator, int Index);
}
