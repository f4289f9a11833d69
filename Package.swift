// swift-tools-version: 6.1
// SPDX-License-Identifier: Apache-2.0
import PackageDescription

let package = Package(
    name: "hvblob",
    products: [
        .executable(name: "hvblob", targets: ["hvblob"]),
        .library(name: "HVBlob", targets: ["HVBlob"]),
        // LD_PRELOAD=libhvblob-device.so: an unmodified program's /dev/azure_blob is `hvblob serve`'s.
        .library(name: "hvblob-device", type: .dynamic, targets: ["HVBlobDevice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // The core: wire layouts, VMBus transport, the VSC model, the simulated VSP and the
        // deterministic simulator. No dependencies, so fuzz targets can compile it with swiftc.
        .target(
            name: "HVBlob",
            path: "Sources/HVBlob",
            // Release builds skip dynamic exclusivity checks (a fifth of the round-trip cost);
            // debug builds, which the tests use, keep them.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // The kernel shim's runtime: coroutines and the kernel API a bridged driver calls.
        // shim/ holds the driver-facing headers (compiled with the driver at run time, not here).
        .target(
            name: "CKernelShim",
            path: "Sources/CKernelShim",
            exclude: ["shim/hvb_stub.c", "shim/linux"],
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"])]
        ),
        // The preload library: C, no dependencies (Sources/HVBlobDevice/include/hvblob_device.h is the wire).
        .target(
            name: "HVBlobDevice",
            path: "Sources/HVBlobDevice",
            // fuse/: `hvblob serve --fuse`'s helper, built with cc against libfuse3 when asked for.
            exclude: ["fuse"],
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])],
            // swift build links the Swift runtime into it too; `hvblob serve --print-preload-path`
            // builds one with cc that needs only libc.
            linkerSettings: [.linkedLibrary("dl")]
        ),
        // `hvblob serve`'s end of the preload's shared-memory channel: atomics, futex, SCM_RIGHTS.
        .target(
            name: "CServeChannel",
            path: "Sources/CServeChannel",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]
        ),
        // Runs a driver's C source against the simulated host (compile, load, schedule).
        .target(
            name: "HVBlobBridge",
            dependencies: ["HVBlob", "CKernelShim"],
            path: "Sources/HVBlobBridge"
        ),
        .executableTarget(
            name: "hvblob",
            dependencies: [
                "HVBlob",
                "HVBlobBridge",
                "CServeChannel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/hvblob"
        ),
        .testTarget(
            name: "HVBlobTests",
            dependencies: [
                "HVBlob",
                "HVBlobBridge",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            path: "Tests/HVBlobTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
