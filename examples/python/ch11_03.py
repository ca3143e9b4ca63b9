# SPDX-License-Identifier: MIT
# ch11_03.py: section 11.3.1 "Mutex Locks" of Python Programming by Example (2015), as
# listed there; the one change is `.daemon = True` for the book's `setDaemon(True)`,
# deprecated since Python 3.10. The C++ port is ../ch11_03.cpp. Run: python3 ch11_03.py
import time
import threading


class MyThread(threading.Thread):
    def __init__(self, name, o_lock):
        threading.Thread.__init__(self)
        self.name = name
        self.running = False
        self.value_lock = o_lock

    def run(self):
        global value
        self.running = True
        while self.running:
            self.value_lock.acquire()
            value += 1
            print('value:', str(value),' from ', self.name)
            self.value_lock.release()
            time.sleep(2)

    def stop(self):
        print('stopping ', self.name)
        self.running = False
        self.join(2)


global value
value = 0
value_lock = threading.Lock()
my_thread1 = MyThread('Thread 1',value_lock)
my_thread1.daemon = True  # the book: my_thread1.setDaemon(True)
my_thread2 = MyThread('Thread 2',value_lock)
my_thread2.daemon = True  # the book: my_thread2.setDaemon(True)
my_thread1.start()
my_thread2.start()

# python 3
input("Press Enter to stop...")
# python 2
#raw_input("Press Enter to stop...")

my_thread1.stop()
my_thread2.stop()
