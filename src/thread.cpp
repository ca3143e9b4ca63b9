// tandem::Thread — compiled part (see <tandem/threading/thread.hpp>).
