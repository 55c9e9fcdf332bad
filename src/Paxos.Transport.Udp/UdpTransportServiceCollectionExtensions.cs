using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Paxos;
using Paxos.Transport;
using Paxos.Transport.Udp;

// Extension methods for IServiceCollection live in its namespace, so they show up without a using.
#pragma warning disable IDE0130 // Namespace does not match folder structure: the DI convention.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the UDP transport in a service collection.</summary>
public static class UdpTransportServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="UdpTransportOptions"/> (configured by <paramref name="configure"/> and checked by
    /// <see cref="UdpTransportOptionsValidator"/>, also at host start) and <see cref="ITransport"/> as a singleton
    /// <see cref="UdpTransport"/>. When <see cref="PaxosOptions"/> are configured in the same collection, resolving
    /// the transport also checks the two agree (<see cref="UdpTransport.CheckCompatible"/>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options, for example from configuration.</param>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddPaxosUdpTransport(this IServiceCollection services, Action<UdpTransportOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<UdpTransportOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<UdpTransportOptions>, UdpTransportOptionsValidator>());
        services.TryAddSingleton(CreateTransport);
        services.TryAddSingleton<ITransport>(static provider => provider.GetRequiredService<UdpTransport>());
        return services;
    }

    private static UdpTransport CreateTransport(IServiceProvider provider)
    {
        var options = provider.GetRequiredService<IOptions<UdpTransportOptions>>().Value;

        // Only configured PaxosOptions are checked: unconfigured ones are mere defaults, which say nothing.
        if (provider.GetService<IEnumerable<IConfigureOptions<PaxosOptions>>>() is { } configured && configured.Any())
        {
            UdpTransport.CheckCompatible(provider.GetRequiredService<IOptions<PaxosOptions>>().Value, options);
        }

        return new UdpTransport(options, provider.GetService<ILoggerFactory>(), provider.GetService<IMeterFactory>());
    }
}
