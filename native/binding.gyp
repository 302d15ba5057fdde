{
  "targets": [{
    "target_name": "prime_native",
    "sources": ["src/tensor.cc", "src/ops.cc", "src/nn.cc", "src/io.cc", "src/dist.cc", "src/packed.cc"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<!@(node libtorch.cjs include)"],
    "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_EXPERIMENTAL", "NODE_ADDON_API_DISABLE_DEPRECATED", "<!@(node libtorch.cjs defines)"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=<!(node libtorch.cjs std)", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations", "<!@(node libtorch.cjs openmp)"],
    "ldflags": ["<!@(node libtorch.cjs openmp)"],
    "libraries": ["-L<!(node libtorch.cjs libdir)", "-Wl,-rpath,<!(node libtorch.cjs libdir)", "<!@(node libtorch.cjs libs)"]
  }]
}
