// File I/O straight into tensor storage: a safetensors reader reads each tensor's byte range
// into the tensor it creates, so a multi-GB checkpoint is never held twice in memory.
#include "common.h"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace prime {

// readTensor(path, offset, nbytes, shape, dtype) -> tensor
static Napi::Value readTensor(const Napi::CallbackInfo& info) {
  std::string path = Str(info, 0);
  int64_t offset = I(info, 1), nbytes = I(info, 2);
  at::Tensor t = at::empty(Ints(info, 3), at::TensorOptions().dtype(ParseDtype(Str(info, 4))));
  int64_t want = t.numel() * static_cast<int64_t>(t.element_size());
  if (want != nbytes)
    throw std::runtime_error(path + ": byte range holds " + std::to_string(nbytes) + " bytes but shape and dtype need " + std::to_string(want));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  char* dst = static_cast<char*>(t.data_ptr());
  int64_t done = 0;
  while (done < nbytes) {
    ssize_t r = ::pread(fd, dst + done, static_cast<size_t>(nbytes - done), offset + done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error(path + ": " + (r == 0 ? std::string("file ends before the tensor's byte range") : std::strerror(e)));
    }
    done += r;
  }
  ::close(fd);
  return Wrap(info.Env(), t);
}

void InitIO(Napi::Env env, Napi::Object exports) { Export<readTensor>(env, exports, "readTensor"); }

}  // namespace prime
